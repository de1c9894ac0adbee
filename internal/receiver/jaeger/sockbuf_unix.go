//go:build unix

package jaeger

import (
	"net"
	"syscall"
)

// socketReceiveBuffer reads back SO_RCVBUF, or 0 when it cannot. Linux
// reports twice the size asked for (it counts its bookkeeping); the value is
// halved to compare with what was configured.
func socketReceiveBuffer(conn *net.UDPConn) int {
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
	if linuxDoubles {
		size /= 2
	}
	return size
}
