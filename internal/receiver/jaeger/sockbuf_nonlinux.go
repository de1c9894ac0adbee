//go:build !linux

package jaeger

const linuxDoubles = false
