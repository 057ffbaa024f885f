package ptclient

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
)

// ReplyForError returns the SOCKS5 reply code that best says why a dial
// failed, so that tor can log the reason (lyrebird's common/socks5 does the
// same):
//
//   - a refusal by the upstream proxy ([ProxyError]): the code it carries;
//   - a DNS failure: ReplyHostUnreachable;
//   - ECONNREFUSED, ECONNRESET: ReplyConnectionRefused;
//   - ENETUNREACH, ENETDOWN: ReplyNetworkUnreachable;
//   - EHOSTUNREACH, EHOSTDOWN: ReplyHostUnreachable;
//   - EADDRNOTAVAIL, EAFNOSUPPORT (e.g. an outbound bind address the host
//     does not have): ReplyAddressNotSupported;
//   - ETIMEDOUT, a passed deadline, or any other net.Error that says
//     Timeout: ReplyTTLExpired, lyrebird's choice for timeouts;
//   - anything else, context.Canceled included: ReplyGeneralFailure.
//
// A nil error is ReplySucceeded.
func ReplyForError(err error) ReplyCode {
	if err == nil {
		return ReplySucceeded
	}
	if pe, ok := errors.AsType[*ProxyError](err); ok {
		return pe.Reply
	}
	if _, ok := errors.AsType[*net.DNSError](err); ok {
		return ReplyHostUnreachable
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET):
		return ReplyConnectionRefused
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.ENETDOWN):
		return ReplyNetworkUnreachable
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.EHOSTDOWN):
		return ReplyHostUnreachable
	case errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EAFNOSUPPORT):
		return ReplyAddressNotSupported
	case errors.Is(err, syscall.ETIMEDOUT),
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, os.ErrDeadlineExceeded):
		return ReplyTTLExpired
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return ReplyTTLExpired
	}
	return ReplyGeneralFailure
}
