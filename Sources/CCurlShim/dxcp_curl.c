#include "dxcp_curl.h"
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

/// Per-handle state owned by the shim: the header list and body of the current request.
typedef struct {
    CURL *curl;
    struct curl_slist *headers;
    struct curl_slist *resolve;
    char *body;
} handle_t;

int dxcp_curl_global_init(void) { return (int)curl_global_init(CURL_GLOBAL_DEFAULT); }

static void apply_fixed(handle_t *h) {
    curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h->curl, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h->curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h->curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h->curl, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h->curl, CURLOPT_PROXY, "");
    curl_easy_setopt(h->curl, CURLOPT_PROTOCOLS_STR, "http,https");
}

dxcp_curl *dxcp_curl_new(void) {
    handle_t *h = calloc(1, sizeof(handle_t));
    if (!h) return NULL;
    h->curl = curl_easy_init();
    if (!h->curl) { free(h); return NULL; }
    apply_fixed(h);
    return h;
}

static void clear_request(handle_t *h) {
    if (h->headers) { curl_slist_free_all(h->headers); h->headers = NULL; }
    if (h->body) { free(h->body); h->body = NULL; }
    if (h->resolve) { curl_slist_free_all(h->resolve); h->resolve = NULL; }
}

void dxcp_curl_free(dxcp_curl *handle) {
    handle_t *h = handle;
    if (!h) return;
    clear_request(h);
    curl_easy_cleanup(h->curl);
    free(h);
}

void dxcp_curl_reset(dxcp_curl *handle) {
    handle_t *h = handle;
    curl_easy_reset(h->curl);
    clear_request(h);
    apply_fixed(h);
}

int dxcp_curl_set_url(dxcp_curl *handle, const char *url) {
    return (int)curl_easy_setopt(((handle_t *)handle)->curl, CURLOPT_URL, url);
}

int dxcp_curl_set_post_body(dxcp_curl *handle, const char *body, long length) {
    handle_t *h = handle;
    if (!body) return (int)curl_easy_setopt(h->curl, CURLOPT_HTTPGET, 1L);
    h->body = malloc((size_t)length + 1);
    if (!h->body) return (int)CURLE_OUT_OF_MEMORY;
    memcpy(h->body, body, (size_t)length);
    h->body[length] = 0;
    curl_easy_setopt(h->curl, CURLOPT_POST, 1L);
    curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE, length);
    return (int)curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, h->body);
}

int dxcp_curl_set_headers(dxcp_curl *handle, const char *const *lines, int count) {
    handle_t *h = handle;
    if (h->headers) { curl_slist_free_all(h->headers); h->headers = NULL; }
    for (int i = 0; i < count; i++) {
        struct curl_slist *next = curl_slist_append(h->headers, lines[i]);
        if (!next) return (int)CURLE_OUT_OF_MEMORY;
        h->headers = next;
    }
    return (int)curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, h->headers);
}

int dxcp_curl_set_timeouts_ms(dxcp_curl *handle, long connect_ms, long total_ms) {
    handle_t *h = handle;
    curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    return (int)curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, total_ms);
}

int dxcp_curl_set_ca_file(dxcp_curl *handle, const char *path) {
    return (int)curl_easy_setopt(((handle_t *)handle)->curl, CURLOPT_CAINFO, path);
}

int dxcp_curl_set_client_certificate(dxcp_curl *handle, const char *cert_path, const char *key_path) {
    handle_t *h = handle;
    curl_easy_setopt(h->curl, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(h->curl, CURLOPT_SSLCERT, cert_path);
    curl_easy_setopt(h->curl, CURLOPT_SSLKEYTYPE, "PEM");
    return (int)curl_easy_setopt(h->curl, CURLOPT_SSLKEY, key_path);
}

int dxcp_curl_set_resolve(dxcp_curl *handle, const char *resolve_line) {
    handle_t *h = handle;
    if (!resolve_line) return 0;
    if (h->resolve) { curl_slist_free_all(h->resolve); h->resolve = NULL; }
    h->resolve = curl_slist_append(NULL, resolve_line);
    if (!h->resolve) return (int)CURLE_OUT_OF_MEMORY;
    return (int)curl_easy_setopt(h->curl, CURLOPT_RESOLVE, h->resolve);
}

int dxcp_curl_set_fresh_connection(dxcp_curl *handle) {
    handle_t *h = handle;
    curl_easy_setopt(h->curl, CURLOPT_FRESH_CONNECT, 1L);
    return (int)curl_easy_setopt(h->curl, CURLOPT_FORBID_REUSE, 1L);
}

int dxcp_curl_set_write_function(dxcp_curl *handle, dxcp_curl_write_fn fn, void *context) {
    handle_t *h = handle;
    curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, fn);
    return (int)curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, context);
}

int dxcp_curl_perform(dxcp_curl *handle) { return (int)curl_easy_perform(((handle_t *)handle)->curl); }

long dxcp_curl_response_code(dxcp_curl *handle) {
    long code = 0;
    curl_easy_getinfo(((handle_t *)handle)->curl, CURLINFO_RESPONSE_CODE, &code);
    return code;
}

const char *dxcp_curl_redirect_url(dxcp_curl *handle) {
    char *url = NULL;
    curl_easy_getinfo(((handle_t *)handle)->curl, CURLINFO_REDIRECT_URL, &url);
    return url;
}

int dxcp_curl_may_have_sent(dxcp_curl *handle) {
    handle_t *h = handle;
    long size = 0;
    curl_off_t pretransfer = 0;
    // Either figure unreadable counts as "may have sent": only proof of nothing releases.
    if (curl_easy_getinfo(h->curl, CURLINFO_REQUEST_SIZE, &size) != CURLE_OK) return 1;
    if (curl_easy_getinfo(h->curl, CURLINFO_PRETRANSFER_TIME_T, &pretransfer) != CURLE_OK) return 1;
    return size > 0 || pretransfer > 0;
}

const char *dxcp_curl_error_text(int code) { return curl_easy_strerror((CURLcode)code); }

int dxcp_curl_is_timeout(int code) { return code == CURLE_OPERATION_TIMEDOUT; }

int dxcp_curl_is_connect_failure(int code) {
    return code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST || code == CURLE_COULDNT_RESOLVE_PROXY;
}

int dxcp_curl_is_connection_lost(int code) {
    return code == CURLE_GOT_NOTHING || code == CURLE_RECV_ERROR || code == CURLE_SEND_ERROR || code == CURLE_PARTIAL_FILE;
}

int dxcp_curl_is_tls_failure(int code) {
    return code == CURLE_SSL_CONNECT_ERROR || code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CERTPROBLEM
        || code == CURLE_SSL_CIPHER || code == CURLE_SSL_CACERT_BADFILE;
}
