import PolicyFile
import Testing

/// The `serve` configuration file: each key stands for one environment variable; strict like the
/// policy file; no secrets.
@Suite struct ServerConfigFileTests {
    @Test func theExampleSetsItsVariables() throws {
        let variables = try ServerConfigFile.load(path: examplesDirectory + "/dxcp-policy.yaml")
        #expect(variables["DXCP_HOST"] == "127.0.0.1")
        #expect(variables["DXCP_PORT"] == "8080")
        #expect(variables["DXCP_DATA_DIR"] == "./data")
        #expect(variables["DXCP_BODY_LIMIT_BYTES"] == "65536")
        #expect(variables["DXCP_CORS_ORIGINS"] == "http://localhost:5173")
        #expect(variables["DXCP_OIDC_AUDIENCE"] == "dxcp-api")
        #expect(variables["DXCP_READ_RPM"] == "600")
        #expect(variables["DXCP_DAILY_QUOTA_ROLLBACK"] == "10")
        #expect(variables["DXCP_MUTATIONS_DISABLED"] == "false")
        #expect(variables["DXCP_SPINNAKER_GATE_URL"] == "http://127.0.0.1:8084")
        #expect(variables["DXCP_SPINNAKER_TIMEOUT_MS"] == "10000")
        #expect(variables["DXCP_SPINNAKER_CONNECT_TIMEOUT_MS"] == "2000")
        #expect(variables["DXCP_SPINNAKER_RECONCILE_INTERVAL_SECONDS"] == "5")
        #expect(variables["DXCP_SPINNAKER_SETTLE_SECONDS"] == "120")
        #expect(variables["DXCP_HTTP_HEAD_TIMEOUT_SECONDS"] == "10")
        #expect(variables["DXCP_HTTP_BODY_TIMEOUT_SECONDS"] == "30")
        #expect(variables["DXCP_HTTP_MAX_CONNECTIONS"] == "4096")
        #expect(variables["DXCP_OIDC_JWKS_FILE"] == nil, "absent keys set nothing")
    }

    /// The environment wins over the file under any name it gives a variable by: a legacy name
    /// (`DXCP_KILL_SWITCH`) in the environment must not lose to the file's key of the same setting.
    @Test func theEnvironmentWinsUnderLegacyNamesToo() {
        let file = [
            "DXCP_MUTATIONS_DISABLED": "false", "DXCP_READ_RPM": "5",
            "DXCP_SPINNAKER_MTLS_CERT_PATH": "/file/cert", "DXCP_SPINNAKER_MTLS_KEY_PATH": "/file/key",
        ]
        let merged = ServerConfigFile.merged(file: file, environment: [
            "DXCP_KILL_SWITCH": "1", "DXCP_SPINNAKER_MTLS_CLIENT_CERT_PATH": "/env/cert", "DXCP_MUTATE_RPM": "7",
        ])
        #expect(merged["DXCP_MUTATIONS_DISABLED"] == nil, "the file's setting gives way to the legacy variable")
        #expect(merged["DXCP_KILL_SWITCH"] == "1")
        #expect(merged["DXCP_SPINNAKER_MTLS_CERT_PATH"] == nil)
        #expect(merged["DXCP_SPINNAKER_MTLS_CLIENT_CERT_PATH"] == "/env/cert")
        #expect(merged["DXCP_SPINNAKER_MTLS_KEY_PATH"] == "/file/key", "a setting the environment does not give stays the file's")
        #expect(merged["DXCP_READ_RPM"] == "5")
        #expect(merged["DXCP_MUTATE_RPM"] == "7")
        let current = ServerConfigFile.merged(file: file, environment: ["DXCP_MUTATIONS_DISABLED": "true"])
        #expect(current["DXCP_MUTATIONS_DISABLED"] == "true")
    }

    @Test func anEmptyFileSetsNothing() throws {
        #expect(try ServerConfigFile.parse("", file: "c.yaml").isEmpty)
        #expect(try ServerConfigFile.parse("# nothing\n", file: "c.yaml").isEmpty)
    }

    @Test(arguments: [
        ("listen:\n  hots: x\n", 2, "listen.hots"),
        ("spinnaker:\n  token: s3cret\n", 2, "spinnaker.token"),
        ("dev_jwt_secret: x\n", 1, "dev_jwt_secret"),
        ("listen:\n  port: 80.5\n", 2, "listen.port"),
        ("limits:\n  read_rpm: \"60\"\n", 2, "limits.read_rpm"),
        ("mutations_disabled: yes\n", 1, "mutations_disabled"),
        ("cors_origins: http://a\n", 1, "cors_origins"),
        ("data_dir: \"\"\n", 1, "data_dir"),
        ("oidc: [a]\n", 1, "oidc"),
    ])
    func mistakesNameTheLineAndField(text: String, line: Int, field: String) {
        do {
            _ = try ServerConfigFile.parse(text, file: "c.yaml")
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.line == line, "\(error)")
            #expect(error.field == field || error.message.contains(field), "\(error)")
            #expect(error.file == "c.yaml")
        }
    }

    @Test func aMissingFileIsNamed() {
        #expect(throws: PolicyFileError.self) { try ServerConfigFile.load(path: "/nonexistent/dxcp.yaml") }
    }
}
