//go:build !linux

package udpsock

import "net"

// WatchKernelDrops reports false: counting the kernel's drops needs Linux.
func WatchKernelDrops(*net.UDPConn) bool { return false }

// KernelDrops reports false: there is no counter outside Linux.
func KernelDrops([]byte) (uint32, bool) { return 0, false }

const bufferFactor = 1
