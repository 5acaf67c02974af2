/// The main configuration of an NGINX run in the foreground from `directory` by a test: one
/// process, every path under the directory, `include` inside `http { }`, then `servers`.
public func nginxMainConfig(directory: String, include: String, connections: Int, servers: String = "") -> String {
    """
    daemon off;
    master_process off;
    pid \(directory)/nginx.pid;
    error_log \(directory)/error.log warn;
    events { worker_connections \(connections); }
    http {
        access_log off;
        client_body_temp_path \(directory)/body;
        proxy_temp_path \(directory)/proxy;
        fastcgi_temp_path \(directory)/fastcgi;
        uwsgi_temp_path \(directory)/uwsgi;
        scgi_temp_path \(directory)/scgi;
        include \(include);
    \(servers)
    }
    """
}
