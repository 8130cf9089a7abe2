//! The private password-checking PostgreSQL cluster of `secrethub_testkit::pg_cluster`, with
//! the tokio-postgres helpers these tests use.

pub(crate) use secrethub_testkit::pg_cluster::Cluster;

/// The cluster, started on first use.
pub(crate) async fn cluster() -> &'static Cluster {
    tokio::task::spawn_blocking(secrethub_testkit::pg_cluster::cluster)
        .await
        .expect("cluster start-up thread")
}

/// tokio-postgres access to the cluster.
pub(crate) trait ClusterExt {
    /// The superuser's connection.
    async fn admin(&self) -> tokio_postgres::Client;
    /// Logs in as `user` and runs a query, as a client of the credentials would.
    async fn login(&self, user: &str, password: &str) -> Result<(), String>;
}

impl ClusterExt for Cluster {
    async fn admin(&self) -> tokio_postgres::Client {
        crate::harness::connect(&self.conn("postgres", &self.password))
            .await
            .expect("connect to the private cluster as postgres")
    }

    async fn login(&self, user: &str, password: &str) -> Result<(), String> {
        let client = crate::harness::connect(&self.conn(user, password))
            .await
            .map_err(|e| crate::harness::pg_error(&e))?;
        client
            .simple_query("SELECT 1")
            .await
            .map(|_| ())
            .map_err(|e| crate::harness::pg_error(&e))
    }
}
