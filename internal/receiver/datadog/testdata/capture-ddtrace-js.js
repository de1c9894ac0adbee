// Capture what dd-trace-js sends to /v0.5/traces.
const http = require('http');
const fs = require('fs');
const out = process.argv[2];
const srv = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', c => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    if (req.url === '/v0.5/traces' && body.length > 1) {
      fs.writeFileSync(out, body);
      fs.writeFileSync(out + '.headers', JSON.stringify(req.headers, null, 2));
      console.log('captured', req.url, body.length);
    } else {
      console.log('other', req.method, req.url, body.length);
    }
    res.setHeader('Content-Type', 'application/json');
    res.end(req.url === '/info' ? JSON.stringify({endpoints: ['/v0.4/traces', '/v0.5/traces']}) : '{"rate_by_service":{"service:,env:":1}}');
  });
});
srv.listen(0, '127.0.0.1', () => {
  const port = srv.address().port;
  const tracer = require('dd-trace').init({
    hostname: '127.0.0.1', port, protocolVersion: '0.5', service: 'frontend', env: 'test', version: '9.9.9',
    startupLogs: false, telemetry: { enabled: false }, remoteConfig: { enabled: false }, plugins: false, flushInterval: 100,
  });
  const t0 = Date.UTC(2026, 10, 21, 6, 0, 0, 250);
  const root = tracer.startSpan('express.request', { startTime: t0, tags: { 'resource.name': 'GET /cart', 'span.kind': 'server', 'span.type': 'web', 'http.status_code': '200', 'cart.size': 2 } });
  const child = tracer.startSpan('redis.command', { childOf: root, startTime: t0 + 2, tags: { 'resource.name': 'GET', 'service.name': 'frontend-redis', 'span.kind': 'client', 'db.system': 'redis' } });
  const err = new TypeError('connection reset');
  child.setTag('error', err);
  child.finish(t0 + 7.5);
  root.finish(t0 + 12.25);
  setTimeout(() => { tracer._tracer._exporter.flush(() => { setTimeout(() => process.exit(0), 300); }); }, 300);
});
