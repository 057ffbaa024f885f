package proto

import (
	"crypto/rand"
	"testing"

	"golang.org/x/crypto/curve25519"
)

// The handshake's pieces, to see where its time goes (in wasm especially):
//
//	GOOS=wasip1 GOARCH=wasm go test -c -o proto.wasm . &&
//	go run github.com/tetratelabs/wazero/cmd/wazero run proto.wasm -test.run "^$" -test.bench Piece
func BenchmarkPieceSessionKey(b *testing.B) {
	for range b.N {
		if _, err := newSessionKey(NativeCurve{}, rand.Reader); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPieceDirtyPublicKey(b *testing.B) {
	var k [32]byte
	rand.Read(k[:])
	for range b.N {
		dirtyPublicKey(NativeCurve{}, &k)
	}
}

func BenchmarkPieceX25519(b *testing.B) {
	var k, p [32]byte
	rand.Read(k[:])
	rand.Read(p[:])
	for range b.N {
		curve25519.X25519(k[:], p[:])
	}
}

func BenchmarkPiecePublicFromRepresentative(b *testing.B) {
	var r [32]byte
	rand.Read(r[:])
	for range b.N {
		publicFromRepresentative(&r)
	}
}
