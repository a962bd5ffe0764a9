import Foundation
import PackagePlugin

/// Embeds the package's top-level `migrations/*.sql` (SQLite) and
/// `migrations-postgres/*.sql` (PostgreSQL) into the target as Swift source, so
/// the binary carries its schemas and works from any directory.
@main
struct EmbedMigrations: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        func files(in name: String) throws -> [URL] {
            try FileManager.default
                .contentsOfDirectory(at: context.package.directoryURL.appending(path: name), includingPropertiesForKeys: nil)
                .filter { $0.pathExtension == "sql" }
                .sorted { $0.lastPathComponent < $1.lastPathComponent }
        }
        let sqlite = try files(in: "migrations"), postgres = try files(in: "migrations-postgres")
        let files = sqlite + postgres
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedMigrations.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(files.count) migrations",
                executable: try context.tool(named: "MigrationEmbedder").url,
                arguments: [output.path] + sqlite.map(\.path) + ["--postgres"] + postgres.map(\.path),
                inputFiles: files,
                outputFiles: [output]
            )
        ]
    }
}
