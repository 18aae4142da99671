// tls-socket-features.test.ts again, on the JS transport (`set_transport('js')`):
// the same tests, with the TLS engine over the Socket's net.Socket.
process.env.RXTLS_TEST_TLS_SOCKET_TRANSPORT = 'js';
await import('./tls-socket-features.test.js');
