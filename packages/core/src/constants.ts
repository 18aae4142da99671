// The documented constants, with OpenSSL's own values.
import { binding } from './native.js';
import { Pointer } from './pointer.js';

/** Certificate and key files in PEM (base64 with BEGIN/END lines). */
export const SSL_FILETYPE_PEM = 1;
/** Certificate and key files in DER (binary ASN.1). */
export const SSL_FILETYPE_ASN1 = 2;

/** Server: ask for no client certificate. Client: check the server's certificate but continue whatever the result. */
export const SSL_VERIFY_NONE = 0x00;
/** Server: ask for a client certificate and check it. Client: fail the handshake unless the server's certificate verifies. */
export const SSL_VERIFY_PEER = 0x01;
/** Server: fail the handshake when the client sends no certificate. With SSL_VERIFY_PEER only. */
export const SSL_VERIFY_FAIL_IF_NO_PEER_CERT = 0x02;
/** Server: ask for a client certificate only once. With SSL_VERIFY_PEER only. */
export const SSL_VERIFY_CLIENT_ONCE = 0x04;
/** Server: ask for the client certificate after the handshake (TLS 1.3). With SSL_VERIFY_PEER only. */
export const SSL_VERIFY_POST_HANDSHAKE = 0x08;

/** The BIO frees what it wraps when it is freed. */
export const BIO_CLOSE = 0x01;
/** The BIO leaves what it wraps open when it is freed. */
export const BIO_NOCLOSE = 0x00;

/** SSL BIO method: I/O on the BIO speaks TLS through its SSL (set_ssl) to the BIO pushed under it. */
export const BIO_f_ssl = new Pointer('BIO_METHOD', binding.bioMethods.BIO_f_ssl);
/** Connect BIO method: a TCP client socket (set_conn_hostname/port, do_connect). */
export const BIO_s_connect = new Pointer('BIO_METHOD', binding.bioMethods.BIO_s_connect);
/** Accept BIO method: a TCP listening socket (set_accept_name/port, do_accept). */
export const BIO_s_accept = new Pointer('BIO_METHOD', binding.bioMethods.BIO_s_accept);

/** Generic TLS method (client and server). */
export const TLS_method = new Pointer('SSL_METHOD', binding.methods.TLS_method);
/** TLS client method. */
export const TLS_client_method = new Pointer('SSL_METHOD', binding.methods.TLS_client_method);
/** TLS server method. */
export const TLS_server_method = new Pointer('SSL_METHOD', binding.methods.TLS_server_method);
/** OpenSSL 3 maps the SSLv23 names to the TLS methods: the same handles. */
export const SSLv23_method = TLS_method;
export const SSLv23_client_method = TLS_client_method;
export const SSLv23_server_method = TLS_server_method;

/** TLS protocol versions for `min_version`/`max_version` style options. */
export const TLS1_2_VERSION = 0x0303;
export const TLS1_3_VERSION = 0x0304;

// ---------------------------------------------------------------------------
// Socket constants, with Linux's values (<sys/socket.h>, <netinet/in.h>,
// <netinet/tcp.h>). `Socket` and `TLSSocket` take them; `set_option` and
// `get_option` take one number and no level, so the option numbers must not
// collide among the options they accept (TCP_NODELAY is 1, like SO_DEBUG,
// which is not accepted).
// ---------------------------------------------------------------------------

/** IPv4 address family. The default family of a socket. */
export const AF_INET = 2;
/** IPv6 address family. */
export const AF_INET6 = 10;
/** Stream sockets (TCP). The only type `Socket` supports, and its default. */
export const SOCK_STREAM = 1;
/** TCP. The only protocol `Socket` supports, and its default. */
export const IPPROTO_TCP = 6;
/** The socket-level option level (`SO_*` options). */
export const SOL_SOCKET = 1;

/** Reuse a local address at bind time (libuv sets it on every TCP bind on Unix). */
export const SO_REUSEADDR = 2;
/** Send TCP keep-alive probes on an idle connection. */
export const SO_KEEPALIVE = 9;
/** The kernel send buffer size in bytes (Linux reports twice what was set). */
export const SO_SNDBUF = 7;
/** The kernel receive buffer size in bytes (Linux reports twice what was set). */
export const SO_RCVBUF = 8;
/** Receive timeout in milliseconds: `receive_timeout`. */
export const SO_RCVTIMEO = 20;
/** Send timeout in milliseconds: `send_timeout`. */
export const SO_SNDTIMEO = 21;
/** Disable Nagle's algorithm (level IPPROTO_TCP). */
export const TCP_NODELAY = 1;

/** `shutdown(how)`: no more receptions. */
export const SHUT_RD = 0;
/** `shutdown(how)`: no more transmissions (sends FIN; for TLS, close_notify). */
export const SHUT_WR = 1;
/** `shutdown(how)`: neither. */
export const SHUT_RDWR = 2;

/** The default `listen()` queue length (Linux's since 5.4; the kernel caps it at net.core.somaxconn). */
export const SOMAXCONN = 4096;
