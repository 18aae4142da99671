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
