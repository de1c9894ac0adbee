//go:build unix

package udpsock

import (
	"net"
	"syscall"
)

// ReceiveBuffer returns the receive buffer the kernel granted, in the unit
// it was asked for (SO_RCVBUF), or 0 when it cannot be read.
func ReceiveBuffer(conn *net.UDPConn) int {
	raw, err := conn.SyscallConn()
	if err != nil {
		return 0
	}
	var size int
	var serr error
	if err := raw.Control(func(fd uintptr) {
		size, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
	}); err != nil || serr != nil {
		return 0
	}
	return size / bufferFactor
}
