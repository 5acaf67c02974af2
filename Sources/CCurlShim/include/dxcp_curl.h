#ifndef DXCP_CURL_H
#define DXCP_CURL_H

#include <stddef.h>

/// Typed, non-variadic wrappers over the libcurl easy interface, so Swift (which cannot call C
/// variadic functions) can drive it. curl's own header stays in the implementation file.

/// An easy handle (a CURL *).
typedef void dxcp_curl;

/// Receives response bytes; returns the number of bytes taken.
typedef size_t (*dxcp_curl_write_fn)(const char *data, size_t size, size_t count, void *context);

/// Initialises libcurl once per process; returns 0 on success.
int dxcp_curl_global_init(void);

/// A new handle with dxcp-policy's fixed settings: no signals, TCP_NODELAY, no redirects
/// followed, TLS peer and host verification on, no proxy from the environment.
dxcp_curl *dxcp_curl_new(void);
void dxcp_curl_free(dxcp_curl *handle);

/// Clears the settings of the previous request (keeping the connection cache), then applies the
/// fixed settings again.
void dxcp_curl_reset(dxcp_curl *handle);

int dxcp_curl_set_url(dxcp_curl *handle, const char *url);
/// POST with the given body (copied), or GET when body is NULL.
int dxcp_curl_set_post_body(dxcp_curl *handle, const char *body, long length);
/// Replaces the request headers with `count` "Name: value" lines (copied for this request).
int dxcp_curl_set_headers(dxcp_curl *handle, const char *const *lines, int count);
int dxcp_curl_set_timeouts_ms(dxcp_curl *handle, long connect_ms, long total_ms);
/// CA bundle to verify the server with (NULL: the system's).
int dxcp_curl_set_ca_file(dxcp_curl *handle, const char *path);
/// Client certificate and key (PEM) for mutual TLS.
int dxcp_curl_set_client_certificate(dxcp_curl *handle, const char *cert_path, const char *key_path);
/// Pins a host name to an address ("host:port:address", as CURLOPT_RESOLVE), so TLS can verify
/// the server's name while connecting elsewhere (NULL: none).
int dxcp_curl_set_resolve(dxcp_curl *handle, const char *resolve_line);
/// This request on a new connection, closed afterwards (CURLOPT_FRESH_CONNECT, CURLOPT_FORBID_REUSE):
/// libcurl silently re-sends a request whose reused connection closed before any answer, which
/// must never happen to a request that is not idempotent, such as a pipeline trigger.
int dxcp_curl_set_fresh_connection(dxcp_curl *handle);
int dxcp_curl_set_write_function(dxcp_curl *handle, dxcp_curl_write_fn fn, void *context);

/// Performs the request; returns a CURLcode (0 on success).
int dxcp_curl_perform(dxcp_curl *handle);
long dxcp_curl_response_code(dxcp_curl *handle);
/// The Location header of a redirect response, or NULL.
const char *dxcp_curl_redirect_url(dxcp_curl *handle);
/// Whether the call may have written any of the request: libcurl counted bytes of it
/// (CURLINFO_REQUEST_SIZE) or got as far as starting the transfer (CURLINFO_PRETRANSFER_TIME_T,
/// stamped once the connection and any TLS session are ready, just before the request is sent).
/// The count alone misses a request whose first write would have blocked and was sent later.
int dxcp_curl_may_have_sent(dxcp_curl *handle);
const char *dxcp_curl_error_text(int code);

/// The CURLcode classes dxcp-policy maps to engine errors.
int dxcp_curl_is_timeout(int code);
/// No connection was made: the name did not resolve or the connection was refused.
int dxcp_curl_is_connect_failure(int code);
/// The connection broke or closed after it was made, before a whole answer arrived.
int dxcp_curl_is_connection_lost(int code);
/// The TLS handshake failed (before any of the request was sent).
int dxcp_curl_is_tls_failure(int code);

#endif
