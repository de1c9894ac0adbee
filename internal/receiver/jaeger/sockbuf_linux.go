package jaeger

import (
	"encoding/binary"
	"net"
	"syscall"
)

const linuxDoubles = true

// enableKernelDrops asks the kernel to attach, to every datagram read, the
// number of datagrams it dropped on the socket so far (SO_RXQ_OVFL): the
// loss that happens before the reader sees anything, when the receive
// buffer is full.
func enableKernelDrops(conn *net.UDPConn) bool {
	raw, err := conn.SyscallConn()
	if err != nil {
		return false
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RXQ_OVFL, 1)
	}); err != nil || serr != nil {
		return false
	}
	return true
}

// kernelDrops returns the SO_RXQ_OVFL counter of a datagram's control
// message, if there is one.
func kernelDrops(oob []byte) (uint32, bool) {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return 0, false
	}
	for _, m := range msgs {
		if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SO_RXQ_OVFL && len(m.Data) >= 4 {
			return binary.NativeEndian.Uint32(m.Data), true
		}
	}
	return 0, false
}
