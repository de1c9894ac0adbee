package udpsock

import (
	"encoding/binary"
	"net"
	"syscall"
	"testing"
	"unsafe"
)

func TestKernelDrops(t *testing.T) {
	// One SOL_SOCKET/SO_RXQ_OVFL control message carrying 7.
	oob := make([]byte, syscall.CmsgSpace(4))
	h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level = syscall.SOL_SOCKET
	h.Type = syscall.SO_RXQ_OVFL
	h.SetLen(syscall.CmsgLen(4))
	binary.NativeEndian.PutUint32(oob[syscall.CmsgLen(0):], 7)
	if n, ok := KernelDrops(oob); !ok || n != 7 {
		t.Errorf("KernelDrops = %d, %v; want 7", n, ok)
	}
	if _, ok := KernelDrops(nil); ok {
		t.Error("no control message read as a counter")
	}
}

func TestSocketOptions(t *testing.T) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if !WatchKernelDrops(conn) {
		t.Error("SO_RXQ_OVFL not accepted")
	}
	if err := conn.SetReadBuffer(64 << 10); err != nil {
		t.Fatal(err)
	}
	if got := ReceiveBuffer(conn); got != 64<<10 {
		t.Errorf("receive buffer %d, want %d", got, 64<<10)
	}
}
