package jaeger

const linuxDoubles = true
