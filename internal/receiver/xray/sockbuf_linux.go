package xray

import (
	"encoding/binary"
	"net"
	"syscall"
)

// watchKernelDrops asks Linux to attach to each datagram the socket's
// count of datagrams dropped so far for lack of buffer space
// (SO_RXQ_OVFL), the loss no reader can see otherwise.
func watchKernelDrops(conn *net.UDPConn) bool {
	raw, err := conn.SyscallConn()
	if err != nil {
		return false
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RXQ_OVFL, 1)
	}); err != nil {
		return false
	}
	return serr == nil
}

// droppedSoFar reads the SO_RXQ_OVFL counter from a datagram's control
// messages.
func droppedSoFar(oob []byte) (uint32, bool) {
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

// receiveBuffer returns the receive buffer the kernel granted, in the
// bytes asked for (Linux reports twice the usable size it books).
func receiveBuffer(conn *net.UDPConn) int {
	raw, err := conn.SyscallConn()
	if err != nil {
		return 0
	}
	var n int
	_ = raw.Control(func(fd uintptr) {
		n, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
	})
	return n / 2
}
