import ArgumentParser

/// `dxcp-policy`: the DXCP governance decision service and its operator tools.
@main
struct DXCPPolicy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dxcp-policy",
        abstract: "Governance decisions for deployments: the DXCP contract v1.1, enforced.",
        subcommands: [Serve.self, Seed.self, Eval.self, AuditCommand.self, Drive.self, MigrateSchema.self, Migrate.self]
    )
}
