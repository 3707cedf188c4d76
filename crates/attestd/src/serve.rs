//! `attestd serve`.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use attestd_server::tls::{self, TlsFiles};
use attestd_server::{AppState, Limits};
use tokio::net::TcpListener;

use crate::config::{ServeArgs, ServeConfig, StateArgs, resolve_serve};
use crate::state::{open_service_with, redact};

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ATTESTD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// The URL clients use to reach `addr`: `localhost` for loopback and wildcard addresses.
fn local_url(scheme: &str, addr: SocketAddr) -> String {
    let host = match addr.ip() {
        ip if ip.is_loopback() || ip.is_unspecified() => "localhost".to_owned(),
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(ip) => format!("[{ip}]"),
    };
    format!("{scheme}://{host}:{}", addr.port())
}

fn public_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    Some(host.trim_start_matches('[').trim_end_matches(']').to_owned())
}

/// Runs the service until SIGINT or SIGTERM.
pub async fn run(state_args: &StateArgs, serve_args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let config: ServeConfig = resolve_serve(state_args, serve_args)?;
    init_logging(config.json_logs);
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let bound = listener.local_addr()?;
    let scheme = if config.insecure_http { "http" } else { "https" };
    let listen_url = local_url(scheme, bound);
    let public_url = config.state.public_url.clone().unwrap_or_else(|| listen_url.clone());

    let service = Arc::new(
        open_service_with(&config.state, public_url.clone(), |c| {
            c.audit_retention = config.audit_retention;
            c.refresh_interval = config.refresh_interval;
        })
        .await?,
    );
    let admin_token_file = config.state.data_dir.join("admin-token");
    if let Some(token) = service.ensure_admin_credential(config.admin_token.as_deref()).await? {
        write_private(&admin_token_file, token.as_bytes())?;
        tracing::info!(path = %admin_token_file.display(), "created the admin credential");
    }
    let maintenance = service.spawn_maintenance();

    let tls_files = if config.insecure_http {
        tracing::warn!("serving plain HTTP (--insecure-http): use only behind a TLS-terminating proxy");
        None
    } else {
        Some(match &config.tls {
            Some((cert, key)) => TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            },
            None => {
                let extra: Vec<String> = public_host(&public_url).into_iter().collect();
                tls::ensure_self_signed(&config.state.data_dir.join("tls"), &extra)?
            }
        })
    };
    let rustls_config = tls_files.as_ref().map(tls::server_config).transpose()?;

    let _ = attestd_server::metrics::handle();
    let upkeep = tokio::spawn(async {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            tick.tick().await;
            if let Some(h) = attestd_server::metrics::handle() {
                h.run_upkeep();
            }
        }
    });

    let app = attestd_server::router(AppState {
        service: Arc::clone(&service),
        limits: Limits {
            max_body_bytes: config.max_body_bytes,
            request_timeout: config.request_timeout,
        },
    });

    println!("attestd listening on {listen_url}");
    println!("  issuer (public URL): {public_url}");
    println!("  OpenID metadata:     {public_url}/.well-known/openid-configuration");
    if let Some(files) = &tls_files {
        println!("  TLS certificate:     {}", files.cert.display());
    }
    println!("  database:            {}", redact(&config.state.database));
    if admin_token_file.exists() {
        println!("  admin token:         {}", admin_token_file.display());
    }
    tracing::info!(%listen_url, %public_url, "attestd started");

    attestd_server::serve(listener, rustls_config, app, shutdown_signal()).await?;
    upkeep.abort();
    maintenance.abort();
    service.flush_audit().await;
    service.store().close().await;
    tracing::info!("attestd stopped");
    Ok(ExitCode::SUCCESS)
}

fn write_private(path: &std::path::Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(contents)?;
    f.sync_all()?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_for_listen_addresses() -> anyhow::Result<()> {
        assert_eq!(local_url("https", "127.0.0.1:8443".parse()?), "https://localhost:8443");
        assert_eq!(local_url("http", "0.0.0.0:80".parse()?), "http://localhost:80");
        assert_eq!(local_url("https", "10.0.0.1:1".parse()?), "https://10.0.0.1:1");
        assert_eq!(
            public_host("https://attest.example:8443/x").as_deref(),
            Some("attest.example")
        );
        assert_eq!(public_host("https://[::1]:8443").as_deref(), Some("::1"));
        Ok(())
    }
}
