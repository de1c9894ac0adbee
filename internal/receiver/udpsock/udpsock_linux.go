package udpsock

import (
	"encoding/binary"
	"net"
	"syscall"
)

// WatchKernelDrops asks the kernel to attach, to every datagram read with
// ReadMsgUDP, the socket's count of datagrams dropped so far for lack of
// buffer space. It reports whether the kernel agreed.
func WatchKernelDrops(conn *net.UDPConn) bool {
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

// KernelDrops returns the SO_RXQ_OVFL counter carried by a datagram's
// control messages, if there is one.
func KernelDrops(oob []byte) (uint32, bool) {
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

// linux reports twice the receive buffer asked for (it counts bookkeeping).
const bufferFactor = 2
