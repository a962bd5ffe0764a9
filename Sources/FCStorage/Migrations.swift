// Placeholder until the store issue lands.
public enum Migrations {
    public static var embedded: [(name: String, sql: String)] { EmbeddedMigrations.files }
}
