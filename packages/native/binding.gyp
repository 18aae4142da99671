{
  "targets": [
    {
      "target_name": "rxtls",
      "sources": [
        "src/addon.cc",
        "src/util/errors.cc",
        "src/util/counters.cc",
        "src/util/property_keys.cc",
        "src/util/socket_fd.cc",
        "src/context.cc",
        "src/default_trust.cc",
        "src/session.cc",
        "src/ssl_failure.cc",
        "src/session_info.cc",
        "src/session_async.cc",
        "src/handshake_step.cc",
        "src/session_store.cc",
        "src/context_data.cc",
        "src/context_features.cc",
        "src/context_options.cc",
        "src/ticket_keys.cc",
        "src/ticket_policy.cc",
        "src/x509.cc",
        "src/poll.cc",
        "src/fd_ssl.cc",
        "src/session_der.cc",
        "src/bio.cc",
        "src/bio_params.cc",
        "src/sockopt.cc",
        "src/verify_unverified.cc",
        "src/ssl_owner.cc",
        "src/ssl_queries.cc",
        "src/ssl_client_options.cc",
        "src/buffer_bio.cc",
        "src/tcp_loop.cc",
        "src/plaintext_slab.cc",
        "src/tcp_server.cc",
        "src/tcp_connection.cc",
        "src/tcp_connection_io.cc",
        "src/tcp_adopt.cc",
        "src/tcp_proxy_header.cc",
        "src/tcp_proxy.cc",
        "src/tcp_session_store.cc",
        "src/tcp_pha.cc",
        "src/tcp_connection_offload.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "OPENSSL_API_COMPAT=30000",
        "OPENSSL_NO_DEPRECATED"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [
        ["OS=='mac'", {
          "xcode_settings": {
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17"
          }
        }],
        ["sanitize==1", {
          "cflags_cc": ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g", "-O1"],
          "ldflags": ["-fsanitize=address,undefined"]
        }]
      ]
    }
  ],
  "variables": { "sanitize%": "0" }
}
