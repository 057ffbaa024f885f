package ptclient_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/water-pt/water-pt/ptclient"
	"github.com/water-pt/water-pt/watm/watmtest"
)

// opErr is what net.Dialer returns for a failed connect(2).
func opErr(errno syscall.Errno) error {
	return &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 443},
		Err: os.NewSyscallError("connect", errno)}
}

func TestReplyForError(t *testing.T) {
	dial := func(ctx context.Context, d *net.Dialer, addr string) error {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return errors.New("dial succeeded")
		}
		return err
	}
	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	canceled, cancel2 := context.WithCancel(context.Background())
	cancel2()

	tests := []struct {
		name string
		err  func(t *testing.T) error
		want ptclient.ReplyCode
	}{
		{"nil", func(*testing.T) error { return nil }, ptclient.ReplySucceeded},
		{"refused (real)", func(t *testing.T) error {
			return dial(context.Background(), &net.Dialer{}, watmtest.ClosedPort(t))
		}, ptclient.ReplyConnectionRefused},
		{"deadline passed (real)", func(t *testing.T) error {
			return dial(expired, &net.Dialer{}, watmtest.ClosedPort(t))
		}, ptclient.ReplyTTLExpired},
		{"read deadline (real)", func(t *testing.T) error {
			c, s := watmtest.Pair(t)
			_ = s
			c.SetReadDeadline(time.Now().Add(-time.Second))
			_, err := c.Read(make([]byte, 1))
			return err
		}, ptclient.ReplyTTLExpired},
		{"source address not on this host (real)", func(t *testing.T) error {
			d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1)}}
			return dial(context.Background(), d, watmtest.ClosedPort(t))
		}, ptclient.ReplyAddressNotSupported},
		{"DNS failure (real)", func(t *testing.T) error {
			r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
				return nil, errors.New("no DNS in this test")
			}}
			return dial(context.Background(), &net.Dialer{Resolver: r}, "no-such-host.invalid:443")
		}, ptclient.ReplyHostUnreachable},
		{"canceled (real)", func(t *testing.T) error {
			return dial(canceled, &net.Dialer{}, watmtest.ClosedPort(t))
		}, ptclient.ReplyGeneralFailure},
		{"ECONNRESET", func(*testing.T) error { return opErr(syscall.ECONNRESET) }, ptclient.ReplyConnectionRefused},
		{"ENETUNREACH", func(*testing.T) error { return opErr(syscall.ENETUNREACH) }, ptclient.ReplyNetworkUnreachable},
		{"ENETDOWN", func(*testing.T) error { return opErr(syscall.ENETDOWN) }, ptclient.ReplyNetworkUnreachable},
		{"EHOSTUNREACH", func(*testing.T) error { return opErr(syscall.EHOSTUNREACH) }, ptclient.ReplyHostUnreachable},
		{"EHOSTDOWN", func(*testing.T) error { return opErr(syscall.EHOSTDOWN) }, ptclient.ReplyHostUnreachable},
		{"ETIMEDOUT", func(*testing.T) error { return opErr(syscall.ETIMEDOUT) }, ptclient.ReplyTTLExpired},
		{"EAFNOSUPPORT", func(*testing.T) error { return opErr(syscall.EAFNOSUPPORT) }, ptclient.ReplyAddressNotSupported},
		{"context.DeadlineExceeded wrapped", func(*testing.T) error {
			return fmt.Errorf("handshake: %w", context.DeadlineExceeded)
		}, ptclient.ReplyTTLExpired},
		{"proxy refusal wrapped", func(*testing.T) error {
			return fmt.Errorf("dialing: %w", &ptclient.ProxyError{Scheme: "http", Reply: ptclient.ReplyConnectionNotAllowed, Msg: "403 Forbidden"})
		}, ptclient.ReplyConnectionNotAllowed},
		{"proxy refusal wrapping a timeout", func(*testing.T) error {
			return &ptclient.ProxyError{Scheme: "socks5", Reply: ptclient.ReplyHostUnreachable, Err: opErr(syscall.ETIMEDOUT)}
		}, ptclient.ReplyHostUnreachable},
		{"EOF", func(*testing.T) error { return fmt.Errorf("reading: %w", io.ErrUnexpectedEOF) }, ptclient.ReplyGeneralFailure},
		{"anything else", func(*testing.T) error { return errors.New("no") }, ptclient.ReplyGeneralFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err(t)
			t.Logf("error: %v", err)
			if got := ptclient.ReplyForError(err); got != tt.want {
				t.Errorf("ReplyForError(%v) = %v, want %v", err, got, tt.want)
			}
		})
	}
}
