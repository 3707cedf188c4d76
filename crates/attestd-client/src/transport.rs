//! TPM transports (TCTIs): how a marshalled TPM 2.0 command reaches a TPM and its response comes
//! back. The configuration strings are tpm2-tools' (`name[:conf]`):
//!
//! | TCTI | Framing |
//! |---|---|
//! | `device:/dev/tpmrm0`, `device` | a character device: one `write` of the whole command, one `read` of the whole response (the kernel's and its resource manager's semantics); `device` alone is `/dev/tpmrm0`, else `/dev/tpm0` |
//! | `swtpm:host=H,port=P` | swtpm's raw TCP command socket: the command bytes, then the response bytes |
//! | `mssim:host=H,port=P` | the Microsoft/IBM reference simulator: `TPM_SEND_COMMAND`, locality and length before the command, length before the response and an acknowledgement after it; its platform port (`port + 1`) is sent power-on and NV-on first |
//!
//! Every transport is generic over a `Read + Write` stream, so the device framing is tested with
//! `swtpm chardev` over a socket pair and the simulator's with an in-test fake.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::TpmError;

/// The largest command or response any transport moves: the kernel's TPM buffer (`TPM_BUFSIZE`),
/// also the largest `MAX_COMMAND_SIZE` / `MAX_RESPONSE_SIZE` TPMs report.
pub const MAX_MESSAGE_SIZE: usize = 4096;

/// The command/response header: tag (2), size (4), command or response code (4).
const HEADER_SIZE: usize = 10;

/// The default device, with the kernel's resource manager.
pub const DEFAULT_DEVICE: &str = "/dev/tpmrm0";
/// The raw device, when there is no resource manager node.
pub const FALLBACK_DEVICE: &str = "/dev/tpm0";

/// How long a socket TCTI waits for a response (a TPM's RSA key generation takes seconds).
const SOCKET_TIMEOUT: Duration = Duration::from_secs(60);

/// Moves one command to a TPM and its response back.
pub trait Transport: Send {
    /// Sends `command` (a whole TPM 2.0 command, header included) and returns the whole response.
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TpmError>;
}

impl std::fmt::Debug for dyn Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("dyn Transport")
    }
}

/// Refuses a command larger than any transport may carry.
fn check_command(command: &[u8]) -> Result<(), TpmError> {
    if command.len() > MAX_MESSAGE_SIZE {
        return Err(TpmError::TooLarge {
            what: "command",
            size: command.len(),
        });
    }
    Ok(())
}

/// The `responseSize` of a response header, checked against the header and the size cap.
fn response_size(header: &[u8]) -> Result<usize, TpmError> {
    let size = header
        .get(2..6)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_be_bytes)
        .ok_or(TpmError::Malformed("response header"))? as usize;
    if size < HEADER_SIZE {
        return Err(TpmError::Malformed("responseSize is below the header size"));
    }
    if size > MAX_MESSAGE_SIZE {
        return Err(TpmError::TooLarge { what: "response", size });
    }
    Ok(size)
}

/// A TPM character device (`/dev/tpmrm0`, `/dev/tpm0`) or anything with its semantics: one write
/// per command, the response read whole.
#[derive(Debug)]
pub struct DeviceTransport<S> {
    stream: S,
}

impl<S: Read + Write + Send> DeviceTransport<S> {
    /// Wraps an open device (or a stream speaking the device semantics, such as swtpm's chardev
    /// mode over a socket pair).
    pub fn new(stream: S) -> DeviceTransport<S> {
        DeviceTransport { stream }
    }
}

impl DeviceTransport<std::fs::File> {
    /// Opens the device at `path` for reading and writing.
    pub fn open(path: &Path) -> Result<Self, TpmError> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| TpmError::Io(std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))))?;
        Ok(DeviceTransport::new(file))
    }
}

impl<S: Read + Write + Send> Transport for DeviceTransport<S> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TpmError> {
        check_command(command)?;
        // The kernel takes a command only in one write; a partial write would leave half a command.
        let written = loop {
            match self.stream.write(command) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        if written != command.len() {
            return Err(TpmError::Io(std::io::Error::new(
                std::io::ErrorKind::WriteZero,
                format!("the device took {written} of the command's {} bytes", command.len()),
            )));
        }
        // One read returns the whole response from a device; a stream peer may deliver it in
        // pieces, so read on until the header's size has arrived, never past the cap.
        let mut buf = vec![0u8; MAX_MESSAGE_SIZE];
        let mut got = 0;
        let mut expected = None;
        loop {
            let n = match self.stream.read(&mut buf[got..]) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => other?,
            };
            if n == 0 {
                return Err(TpmError::Io(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("the device closed after {got} bytes of a response"),
                )));
            }
            got += n;
            if expected.is_none() && got >= HEADER_SIZE {
                expected = Some(response_size(&buf[..got])?);
            }
            match expected {
                Some(size) if got > size => {
                    return Err(TpmError::Malformed(
                        "more bytes than the response header's responseSize",
                    ));
                }
                Some(size) if got == size => break,
                _ => {}
            }
        }
        buf.truncate(got);
        Ok(buf)
    }
}

/// swtpm's raw TPM command socket (`swtpm socket --server type=tcp`): the bytes of the command,
/// then those of the response.
#[derive(Debug)]
pub struct SocketTransport<S> {
    stream: S,
}

impl<S: Read + Write + Send> SocketTransport<S> {
    /// Wraps a connected stream.
    pub fn new(stream: S) -> SocketTransport<S> {
        SocketTransport { stream }
    }
}

impl<S: Read + Write + Send> Transport for SocketTransport<S> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TpmError> {
        check_command(command)?;
        self.stream.write_all(command)?;
        let mut response = vec![0u8; HEADER_SIZE];
        self.stream.read_exact(&mut response)?;
        let size = response_size(&response)?;
        response.resize(size, 0);
        self.stream.read_exact(&mut response[HEADER_SIZE..])?;
        Ok(response)
    }
}

/// `MS_SIM_POWER_ON` (platform port).
pub const MS_SIM_POWER_ON: u32 = 1;
/// `MS_SIM_TPM_SEND_COMMAND` (command port).
pub const MS_SIM_TPM_SEND_COMMAND: u32 = 8;
/// `MS_SIM_NV_ON` (platform port).
pub const MS_SIM_NV_ON: u32 = 11;
/// `TPM_SESSION_END` (either port): the client is done with the connection.
pub const MS_SIM_SESSION_END: u32 = 20;

/// The Microsoft/IBM TPM 2.0 reference simulator's TCP protocol (tpm2-tss's `mssim` TCTI):
/// commands on the command port framed as `TPM_SEND_COMMAND ‖ locality ‖ size ‖ command`,
/// answered `size ‖ response ‖ ack (0)`; the platform port takes 32-bit signals, each acknowledged
/// with 0.
#[derive(Debug)]
pub struct MssimTransport<S: Write> {
    command: S,
    platform: S,
    locality: u8,
}

impl<S: Read + Write + Send> MssimTransport<S> {
    /// Wraps connected command and platform streams and powers the simulator on (power-on, then
    /// NV-on, as tpm2-tss does); the TPM still needs `TPM2_Startup` after a fresh power-on.
    pub fn new(command: S, platform: S) -> Result<MssimTransport<S>, TpmError> {
        let mut t = MssimTransport {
            command,
            platform,
            locality: 0,
        };
        t.platform_command(MS_SIM_POWER_ON)?;
        t.platform_command(MS_SIM_NV_ON)?;
        Ok(t)
    }

    /// Sends one platform signal and checks its acknowledgement.
    pub fn platform_command(&mut self, signal: u32) -> Result<(), TpmError> {
        self.platform.write_all(&signal.to_be_bytes())?;
        let mut ack = [0u8; 4];
        self.platform.read_exact(&mut ack)?;
        match u32::from_be_bytes(ack) {
            0 => Ok(()),
            rc => Err(TpmError::Simulator {
                what: "platform signal",
                code: signal,
                ack: rc,
            }),
        }
    }
}

impl<S: Read + Write + Send> Transport for MssimTransport<S> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TpmError> {
        check_command(command)?;
        let mut framed = Vec::with_capacity(9 + command.len());
        framed.extend(MS_SIM_TPM_SEND_COMMAND.to_be_bytes());
        framed.push(self.locality);
        framed.extend(u32::try_from(command.len()).unwrap_or(u32::MAX).to_be_bytes());
        framed.extend(command);
        self.command.write_all(&framed)?;
        let mut len = [0u8; 4];
        self.command.read_exact(&mut len)?;
        let size = u32::from_be_bytes(len) as usize;
        if size > MAX_MESSAGE_SIZE {
            return Err(TpmError::TooLarge { what: "response", size });
        }
        let mut response = vec![0u8; size];
        self.command.read_exact(&mut response)?;
        let mut ack = [0u8; 4];
        self.command.read_exact(&mut ack)?;
        if u32::from_be_bytes(ack) != 0 {
            return Err(TpmError::Simulator {
                what: "TPM_SEND_COMMAND",
                code: MS_SIM_TPM_SEND_COMMAND,
                ack: u32::from_be_bytes(ack),
            });
        }
        // The simulator's own length must agree with the TPM header's size.
        if response.len() < HEADER_SIZE || response_size(&response)? != response.len() {
            return Err(TpmError::Malformed("the simulator's length differs from responseSize"));
        }
        Ok(response)
    }
}

impl<S: Write> Drop for MssimTransport<S> {
    fn drop(&mut self) {
        // Lets the simulator close its side at once; it is gone anyway if this fails.
        let _ = self.command.write_all(&MS_SIM_SESSION_END.to_be_bytes());
        let _ = self.platform.write_all(&MS_SIM_SESSION_END.to_be_bytes());
    }
}

/// A parsed TCTI configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tcti {
    /// A character device; `None` for `device` alone (/dev/tpmrm0, else /dev/tpm0).
    Device(Option<PathBuf>),
    /// swtpm's raw command socket.
    Swtpm {
        /// Host name or address.
        host: String,
        /// The command port.
        port: u16,
    },
    /// The reference simulator; its platform port is `port + 1`.
    Mssim {
        /// Host name or address.
        host: String,
        /// The command port.
        port: u16,
    },
}

/// The environment variables tpm2-tools reads for a TCTI, in its order.
pub const TCTI_ENV: [&str; 2] = ["TPM2TOOLS_TCTI", "TCTI"];

impl Tcti {
    /// Parses tpm2-tools' `name[:conf]`: `device[:PATH]`, `swtpm[:host=H,port=P]`,
    /// `mssim[:host=H,port=P]` (default host `localhost`, port 2321); the library names
    /// `libtss2-tcti-NAME.so[.0]` are accepted for NAME. A bare `HOST:PORT` is swtpm (attestd's
    /// earlier syntax).
    pub fn parse(s: &str) -> Result<Tcti, TpmError> {
        let s = s.trim();
        let (name, conf) = match s.split_once(':') {
            Some((n, c)) => (n, Some(c)),
            None => (s, None),
        };
        let short = name
            .strip_prefix("libtss2-tcti-")
            .map(|n| n.split(".so").next().unwrap_or(n))
            .unwrap_or(name);
        match short {
            "device" => Ok(Tcti::Device(conf.filter(|c| !c.is_empty()).map(PathBuf::from))),
            "swtpm" => {
                let (host, port) = host_port(conf.unwrap_or(""), "swtpm")?;
                Ok(Tcti::Swtpm { host, port })
            }
            "mssim" => {
                let (host, port) = host_port(conf.unwrap_or(""), "mssim")?;
                if port == u16::MAX {
                    return Err(TpmError::Tcti(
                        "mssim: port 65535 leaves no room for the platform port (port + 1)".into(),
                    ));
                }
                Ok(Tcti::Mssim { host, port })
            }
            _ => {
                if let Some(port) = conf.and_then(|c| c.parse::<u16>().ok())
                    && !name.is_empty()
                {
                    return Ok(Tcti::Swtpm {
                        host: name.to_owned(),
                        port,
                    });
                }
                Err(TpmError::Tcti(format!(
                    "unsupported TCTI '{name}': use device[:PATH], swtpm[:host=H,port=P] or mssim[:host=H,port=P]"
                )))
            }
        }
    }

    /// The TCTI to use: `flag` (the `--tcti` option), else `TPM2TOOLS_TCTI`, else `TCTI`, else
    /// `device` — as tpm2-tools chooses.
    pub fn resolve(flag: Option<&str>) -> Result<Tcti, TpmError> {
        Self::resolve_with(flag, |k| std::env::var(k).ok())
    }

    /// [`Tcti::resolve`] with the environment given as a function (for tests).
    pub fn resolve_with(flag: Option<&str>, env: impl Fn(&str) -> Option<String>) -> Result<Tcti, TpmError> {
        if let Some(f) = flag {
            return Tcti::parse(f);
        }
        for var in TCTI_ENV {
            if let Some(v) = env(var).filter(|v| !v.trim().is_empty()) {
                return Tcti::parse(&v).map_err(|e| TpmError::Tcti(format!("{var}: {e}")));
            }
        }
        Ok(Tcti::Device(None))
    }

    /// The device path this TCTI opens: the configured one, or /dev/tpmrm0 when it exists, else
    /// /dev/tpm0. `None` for socket TCTIs.
    pub fn device_path(&self) -> Option<PathBuf> {
        match self {
            Tcti::Device(Some(p)) => Some(p.clone()),
            Tcti::Device(None) if Path::new(DEFAULT_DEVICE).exists() => Some(PathBuf::from(DEFAULT_DEVICE)),
            Tcti::Device(None) => Some(PathBuf::from(FALLBACK_DEVICE)),
            _ => None,
        }
    }

    /// Opens the transport.
    pub fn open(&self) -> Result<Box<dyn Transport>, TpmError> {
        match self {
            Tcti::Device(_) => {
                let path = self
                    .device_path()
                    .ok_or_else(|| TpmError::Tcti("no device path".into()))?;
                Ok(Box::new(DeviceTransport::open(&path)?))
            }
            Tcti::Swtpm { host, port } => Ok(Box::new(SocketTransport::new(connect(host, *port)?))),
            Tcti::Mssim { host, port } => {
                let command = connect(host, *port)?;
                let platform = connect(host, port.saturating_add(1))?;
                Ok(Box::new(MssimTransport::new(command, platform)?))
            }
        }
    }
}

impl std::fmt::Display for Tcti {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tcti::Device(None) => f.write_str("device"),
            Tcti::Device(Some(p)) => write!(f, "device:{}", p.display()),
            Tcti::Swtpm { host, port } => write!(f, "swtpm:host={host},port={port}"),
            Tcti::Mssim { host, port } => write!(f, "mssim:host={host},port={port}"),
        }
    }
}

/// `host=H,port=P` (either optional, in any order).
fn host_port(conf: &str, tcti: &str) -> Result<(String, u16), TpmError> {
    let mut host = "localhost".to_owned();
    let mut port = 2321u16;
    for kv in conf.split(',').map(str::trim).filter(|kv| !kv.is_empty()) {
        match kv.split_once('=') {
            Some(("host", h)) if !h.is_empty() => host = h.to_owned(),
            Some(("port", p)) => {
                port = p
                    .parse()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| TpmError::Tcti(format!("{tcti}: port '{p}' is not a TCP port (1-65535)")))?;
            }
            _ => {
                return Err(TpmError::Tcti(format!(
                    "{tcti}: unknown option '{kv}' (expected host=H,port=P)"
                )));
            }
        }
    }
    Ok((host, port))
}

fn connect(host: &str, port: u16) -> Result<TcpStream, TpmError> {
    let stream = TcpStream::connect((host, port))
        .map_err(|e| TpmError::Io(std::io::Error::new(e.kind(), format!("{host}:{port}: {e}"))))?;
    stream.set_read_timeout(Some(SOCKET_TIMEOUT))?;
    // Commands are small and strictly request/response: do not wait to coalesce them.
    stream.set_nodelay(true)?;
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tpm2_tools_tcti_strings() -> Result<(), TpmError> {
        assert_eq!(Tcti::parse("device")?, Tcti::Device(None));
        assert_eq!(Tcti::parse("device:")?, Tcti::Device(None));
        assert_eq!(
            Tcti::parse("device:/dev/tpmrm1")?,
            Tcti::Device(Some("/dev/tpmrm1".into()))
        );
        assert_eq!(
            Tcti::parse("libtss2-tcti-device.so.0:/dev/tpm0")?,
            Tcti::Device(Some("/dev/tpm0".into()))
        );
        let sw = |h: &str, p| Tcti::Swtpm {
            host: h.into(),
            port: p,
        };
        assert_eq!(Tcti::parse("swtpm")?, sw("localhost", 2321));
        assert_eq!(Tcti::parse("swtpm:port=2400,host=10.0.0.2")?, sw("10.0.0.2", 2400));
        assert_eq!(Tcti::parse("127.0.0.1:2321")?, sw("127.0.0.1", 2321));
        assert_eq!(
            Tcti::parse("mssim:host=127.0.0.1,port=2421")?,
            Tcti::Mssim {
                host: "127.0.0.1".into(),
                port: 2421
            }
        );
        assert_eq!(Tcti::parse(" mssim ")?.to_string(), "mssim:host=localhost,port=2321");
        Ok(())
    }

    #[test]
    fn bad_tcti_strings_name_what_is_wrong() {
        for (bad, needle) in [
            ("tabrmd", "unsupported TCTI 'tabrmd'"),
            ("swtpm:port=0", "port '0'"),
            ("swtpm:port=70000", "port '70000'"),
            ("mssim:port=65535", "platform port"),
            ("mssim:hots=x", "unknown option 'hots=x'"),
            ("swtpm:host=", "unknown option 'host='"),
            (":2321", "unsupported TCTI ''"),
        ] {
            match Tcti::parse(bad) {
                Err(e @ TpmError::Tcti(_)) => {
                    assert!(e.to_string().contains(needle), "{bad}: {e}");
                    assert_eq!(e.code(), "TctiInvalid");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_flag_beats_tpm2tools_tcti_beats_tcti_beats_the_device() -> Result<(), TpmError> {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
        };
        let both = env(&[("TPM2TOOLS_TCTI", "swtpm:port=1"), ("TCTI", "mssim:port=2")]);
        assert_eq!(
            Tcti::resolve_with(Some("device:/dev/x"), both)?,
            Tcti::Device(Some("/dev/x".into()))
        );
        assert!(matches!(Tcti::resolve_with(None, both)?, Tcti::Swtpm { port: 1, .. }));
        let tcti = env(&[("TCTI", "mssim:port=2")]);
        assert!(matches!(Tcti::resolve_with(None, tcti)?, Tcti::Mssim { port: 2, .. }));
        assert_eq!(Tcti::resolve_with(None, env(&[("TCTI", " ")]))?, Tcti::Device(None));
        let bad = Tcti::resolve_with(None, env(&[("TPM2TOOLS_TCTI", "bogus")]));
        assert!(
            matches!(&bad, Err(TpmError::Tcti(m)) if m.starts_with("TPM2TOOLS_TCTI: ")),
            "{bad:?}"
        );
        Ok(())
    }
}
