//! The whole emulated environment around an implementation under test, started together on loopback:
//! True API discovery and CDN hosts, the ЛМ ЧЗ, the ТС ПИоТ (optional), the KKT with its ATOL web API
//! (optional) and the control API, sharing one world, one clock, one fault table and one trace; and the
//! endpoints object a SUT is given (`{"true_api":…,"local_module":…,"control":…,"tspiot":…,"kkt":…}`).
//!
//! Owns only the wiring; `markcert serve` and the scenario runner both start a [`Stack`].

use crate::cdn::{self, AuthOptions, TrueApiContext, TrueApiServers};
use crate::clock::WorldClock;
use crate::control::{self, ControlContext, ControlServer};
use crate::faults::FaultTable;
use crate::fnauth::{FnAuthScheme, FnAuthService, HmacSha256V1};
use crate::kkt::atol::server::{self as atol_server, AtolHandle, AtolServerOptions, DEFAULT_DEVICE};
use crate::kkt::device::{KktDevice, KktDeviceContext, KktDeviceError};
use crate::kkt::options::KktOptions;
use crate::lm::model::{InitRequest, LocalModule};
use crate::lm::options::LmOptions;
use crate::lm::server::{self as lm_server, LmContext, LmServer};
use crate::reqlog::ReqLog;
use crate::trace::Trace;
use crate::trueapi::TrueApiOptions;
use crate::tspiot::admin::{AdminState, InstanceInfo};
use crate::tspiot::auth::{TokenManager, TokenSettings, WorldFnSigner};
use crate::tspiot::lm_client::{LmClient, LmEndpoint};
use crate::tspiot::options::TsPiotOptions;
use crate::tspiot::orchestrator::TsPiot;
use crate::tspiot::server::{self as tspiot_server, Listen, TsPiotContext, TsPiotServers};
use crate::tspiot::upstream::CdnClient;
use crate::world::World;
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

/// How the ЛМ ЧЗ starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LmStart {
    /// Already initialised and synced at start, as in a store that has been running (default).
    #[default]
    Ready,
    /// Fresh from installation: `not_configured` until someone calls `/init`.
    NotConfigured,
}

/// ТС ПИоТ settings of a stack.
#[derive(Clone, Debug, Default)]
pub struct TsPiotStackOptions {
    /// The instance's settings.
    pub options: TsPiotOptions,
    /// POS API port (ephemeral when `None`).
    pub port: Option<u16>,
    /// Admin API port (ephemeral when `None`).
    pub admin_port: Option<u16>,
    /// Serve the POS API over HTTPS with a self-signed certificate, written as PEM to this path.
    pub tls_ca_pem: Option<PathBuf>,
}

/// KKT settings of a stack.
#[derive(Clone, Debug, Default)]
pub struct KktStackOptions {
    /// The controls at start (`kkt.md` §9); changeable at run time through the control API.
    pub options: KktOptions,
    /// ATOL web API port (ephemeral when `None`; the ATOL driver's own is 16732).
    pub port: Option<u16>,
}

/// What to start.
#[derive(Clone, Debug)]
pub struct StackOptions {
    /// Number of CDN hosts.
    pub cdn_hosts: usize,
    /// Fixed ports of the True API: discovery on this port, CDN host `i` on this port + `i`
    /// (ephemeral when `None`).
    pub true_api_port: Option<u16>,
    /// Address to bind (loopback by default).
    pub bind: IpAddr,
    /// `auth.xapikey_cutoff` (Unix ms, world clock).
    pub xapikey_cutoff_ms: i64,
    /// True API settings (`trueapi.*`).
    pub true_api: TrueApiOptions,
    /// ЛМ ЧЗ settings.
    pub lm: LmOptions,
    /// ЛМ ЧЗ state at start.
    pub lm_start: LmStart,
    /// ЛМ ЧЗ port (ephemeral when `None`).
    pub lm_port: Option<u16>,
    /// The ТС ПИоТ, if one is wanted.
    pub tspiot: Option<TsPiotStackOptions>,
    /// The KKT with ФН-М, if one is wanted.
    pub kkt: Option<KktStackOptions>,
    /// How many issued reqIds are remembered.
    pub reqlog_capacity: usize,
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            cdn_hosts: 3,
            true_api_port: None,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            xapikey_cutoff_ms: cdn::DEFAULT_XAPIKEY_CUTOFF_MS,
            true_api: TrueApiOptions::default(),
            lm: LmOptions::default(),
            lm_start: LmStart::Ready,
            lm_port: None,
            tspiot: Some(TsPiotStackOptions::default()),
            kkt: Some(KktStackOptions::default()),
            reqlog_capacity: 1_000_000,
        }
    }
}

/// The endpoints object (issue 3 §7, issue 4 §5).
#[derive(Clone, Debug, Serialize)]
pub struct Endpoints {
    /// True API hosts and the store's `X-API-KEY`.
    pub true_api: TrueApiEndpoints,
    /// The ЛМ ЧЗ and its Basic-auth credentials.
    pub local_module: LocalModuleEndpoint,
    /// Base URL of the control API.
    pub control: String,
    /// The ТС ПИоТ, when the stack has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tspiot: Option<TsPiotEndpoint>,
    /// The KKT's ATOL web API, when the stack has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kkt: Option<KktEndpoint>,
}

/// `kkt` of the endpoints object (issue 5 §6).
#[derive(Clone, Debug, Serialize)]
pub struct KktEndpoint {
    /// ATOL web API base URL.
    pub url: String,
    /// `deviceID` of the KKT.
    pub device_id: String,
    /// Serial of its ФН (tag 1041).
    pub fn_serial: String,
    /// Serial of the KKT.
    pub kkt_serial: String,
}

/// `true_api` of the endpoints object.
#[derive(Clone, Debug, Serialize)]
pub struct TrueApiEndpoints {
    /// Discovery host base URL.
    pub discovery: String,
    /// CDN host base URLs.
    pub hosts: Vec<String>,
    /// The store's `X-API-KEY` (the first one of the store in the world), if any.
    pub api_key: Option<String>,
}

/// `local_module` of the endpoints object.
#[derive(Clone, Debug, Serialize)]
pub struct LocalModuleEndpoint {
    /// Base URL.
    pub url: String,
    /// Basic-auth login.
    pub login: String,
    /// Basic-auth password.
    pub password: String,
}

/// `tspiot` of the endpoints object.
#[derive(Clone, Debug, Serialize)]
pub struct TsPiotEndpoint {
    /// POS API base URL.
    pub url: String,
    /// Admin API base URL.
    pub admin: String,
    /// `client_info.id` of the POS program registered in the world.
    pub client_id: Option<String>,
    /// `client_info.token` of that program.
    pub client_token: Option<String>,
    /// PEM of the self-signed certificate to trust, when the POS API is HTTPS.
    pub ca_pem: Option<PathBuf>,
}

/// Errors starting a stack.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// True API hosts.
    #[error(transparent)]
    TrueApi(#[from] cdn::CdnError),
    /// ЛМ ЧЗ.
    #[error(transparent)]
    Lm(#[from] lm_server::LmServeError),
    /// Control API.
    #[error(transparent)]
    Control(#[from] control::ControlError),
    /// ТС ПИоТ.
    #[error(transparent)]
    TsPiot(#[from] tspiot_server::TsPiotServeError),
    /// The certificate could not be made or written.
    #[error(transparent)]
    Tls(#[from] crate::tspiot::tls::TlsError),
    /// The world has no marking fiscal drive of the store for the ТС ПИоТ to authenticate with.
    #[error("the world registers no marking fiscal drive for the store INN {0}: the ТС ПИоТ needs one")]
    NoFiscalDrive(String),
    /// The KKT could not be built.
    #[error(transparent)]
    Kkt(#[from] KktDeviceError),
    /// The KKT's ATOL web API could not start.
    #[error(transparent)]
    Atol(#[from] atol_server::AtolServeError),
}

/// A running stack.
pub struct Stack {
    /// The world.
    pub world: Arc<RwLock<World>>,
    /// The clock.
    pub clock: WorldClock,
    /// The trace.
    pub trace: Trace,
    /// The fault table.
    pub faults: FaultTable,
    /// Issued reqIds.
    pub reqlog: ReqLog,
    /// ФН tokens issued by the True API.
    pub fn_auth: Arc<FnAuthService>,
    /// The ЛМ ЧЗ.
    pub lm: Arc<Mutex<LocalModule>>,
    /// The ТС ПИоТ instance, if any.
    pub tspiot: Option<Arc<TsPiot>>,
    /// The ФН signer the ТС ПИоТ uses (scenarios may break it).
    pub fn_signer: Option<Arc<WorldFnSigner>>,
    /// The KKT, if any.
    pub kkt: Option<Arc<KktDevice>>,
    /// Where everything listens.
    pub endpoints: Endpoints,
    /// The True API hosts' settings (graders recompute their answers with them).
    pub true_api_options: Arc<TrueApiOptions>,
    true_api: TrueApiServers,
    lm_server: LmServer,
    control: ControlServer,
    tspiot_servers: Option<TsPiotServers>,
    kkt_server: Option<AtolHandle>,
}

impl Stack {
    /// Start everything over `world`.
    pub async fn start(
        world: World,
        clock: WorldClock,
        trace: Trace,
        opts: StackOptions,
    ) -> Result<Stack, StackError> {
        let api_key = world
            .participants()
            .iter()
            .find(|p| p.inn == world.store_inn)
            .and_then(|p| p.api_keys.first())
            .map(|k| k.token.clone());
        let store_drive =
            world.fiscal_drives().iter().find(|d| d.inn == world.store_inn && d.marking).cloned();
        let pos_program = world.pos_software().first().cloned();
        let store_inn = world.store_inn.clone();
        let world = Arc::new(RwLock::new(world));
        let faults = FaultTable::new();
        let reqlog = ReqLog::new(opts.reqlog_capacity);
        let scheme: Arc<dyn FnAuthScheme> = Arc::new(HmacSha256V1);
        let fn_auth = Arc::new(FnAuthService::new(scheme.clone()));
        let true_api_options = Arc::new(opts.true_api.clone());
        let ctx = TrueApiContext {
            world: world.clone(),
            clock: clock.clone(),
            trace: trace.clone(),
            reqlog: reqlog.clone(),
            options: true_api_options.clone(),
            auth: Arc::new(AuthOptions {
                xapikey_cutoff_ms: opts.xapikey_cutoff_ms,
                ..AuthOptions::default()
            }),
            faults: faults.clone(),
            fn_auth: fn_auth.clone(),
        };
        let lm = Arc::new(Mutex::new(local_module(&opts, &world, &clock)));
        let true_api = cdn::spawn_at(ctx, opts.bind, opts.cdn_hosts, opts.true_api_port).await?;
        let lm_server = lm_server::spawn(
            LmContext {
                world: world.clone(),
                clock: clock.clone(),
                trace: trace.clone(),
                faults: faults.clone(),
                module: lm.clone(),
            },
            SocketAddr::new(opts.bind, opts.lm_port.unwrap_or(0)),
        )
        .await?;
        let local_module = LocalModuleEndpoint {
            url: lm_server.url.clone(),
            login: opts.lm.login.clone(),
            password: opts.lm.password.clone(),
        };
        let (mut tspiot, mut fn_signer, mut tspiot_servers, mut tspiot_endpoint) = (None, None, None, None);
        if let Some(t) = &opts.tspiot {
            let drive = store_drive.ok_or_else(|| StackError::NoFiscalDrive(store_inn.clone()))?;
            let http = reqwest::Client::new();
            let signer = Arc::new(WorldFnSigner::new(world.clone(), drive.serial.clone(), scheme.clone()));
            let auth = Arc::new(TokenManager::new(
                http.clone(),
                true_api.endpoints.discovery.clone(),
                clock.clone(),
                signer.clone(),
                TokenSettings {
                    mode: t.options.auth,
                    api_key: api_key.clone(),
                    inn: drive.inn.clone(),
                    kkt_serial: drive.kkt_serial.clone(),
                    tspiot_id: t.options.tspiot_id.clone(),
                    renew_before_s: t.options.token_renew_before_s,
                    xapikey_until_ms: Some(opts.xapikey_cutoff_ms),
                },
            ));
            let cdn_client = CdnClient::new(
                true_api.endpoints.discovery.clone(),
                clock.clone(),
                t.options.upstream.clone(),
                http.clone(),
            );
            let lm_client = LmClient::new(
                http,
                LmEndpoint {
                    url: local_module.url.clone(),
                    login: local_module.login.clone(),
                    password: local_module.password.clone(),
                },
                t.options.lm_api_v2,
                drive.serial.clone(),
            );
            let instance =
                Arc::new(TsPiot::new(t.options.clone(), clock.clone(), cdn_client, Some(lm_client), auth));
            instance.start().await;
            let tls = match &t.tls_ca_pem {
                None => None,
                Some(path) => {
                    let material = crate::tspiot::tls::self_signed(&[])?;
                    crate::tspiot::tls::write_ca_pem(&material, path)?;
                    Some(material)
                }
            };
            let servers = tspiot_server::spawn(
                TsPiotContext {
                    world: world.clone(),
                    clock: clock.clone(),
                    trace: trace.clone(),
                    tspiot: instance.clone(),
                    kkt_serial: drive.kkt_serial.clone(),
                    kkt_inn: drive.inn.clone(),
                    faults: Some(faults.clone()),
                    admin: AdminState {
                        world: world.clone(),
                        instance: Arc::new(RwLock::new(InstanceInfo::registered(
                            t.options.tspiot_id.clone(),
                            &drive,
                        ))),
                    },
                },
                Listen { ip: opts.bind, port: t.port, admin_port: t.admin_port, tls },
            )
            .await?;
            tspiot_endpoint = Some(TsPiotEndpoint {
                url: servers.url.clone(),
                admin: servers.admin_url.clone(),
                client_id: pos_program.as_ref().map(|p| p.id.clone()),
                client_token: pos_program.as_ref().map(|p| p.token.clone()),
                ca_pem: t.tls_ca_pem.clone(),
            });
            tspiot = Some(instance);
            fn_signer = Some(signer);
            tspiot_servers = Some(servers);
        }
        let (mut kkt, mut kkt_server, mut kkt_endpoint) = (None, None, None);
        if let Some(k) = &opts.kkt {
            let device = Arc::new(KktDevice::for_store(KktDeviceContext {
                options: k.options.clone(),
                true_api_options: true_api_options.clone(),
                lm: Some(lm.clone()),
                ..KktDeviceContext::new(
                    world.clone(),
                    clock.clone(),
                    trace.clone(),
                    reqlog.clone(),
                    faults.clone(),
                )
            })?);
            let server = atol_server::spawn(
                AtolServerOptions {
                    bind: opts.bind,
                    port: k.port,
                    clock: clock.clone(),
                    ..AtolServerOptions::default()
                },
                device.clone(),
                trace.clone(),
            )
            .await?;
            let registration = device.registration();
            kkt_endpoint = Some(KktEndpoint {
                url: server.url.clone(),
                device_id: DEFAULT_DEVICE.to_string(),
                fn_serial: registration.fn_serial.clone(),
                kkt_serial: registration.kkt_serial.clone(),
            });
            kkt = Some(device);
            kkt_server = Some(server);
        }
        let control = control::spawn(
            ControlContext {
                world: world.clone(),
                clock: clock.clone(),
                trace: trace.clone(),
                faults: faults.clone(),
                reqlog: reqlog.clone(),
                lm: Some(lm.clone()),
                tspiot: tspiot.clone(),
                fn_signer: fn_signer.clone(),
                fn_auth: fn_auth.clone(),
                kkt: kkt.clone(),
            },
            opts.bind,
        )
        .await?;
        let endpoints = Endpoints {
            true_api: TrueApiEndpoints {
                discovery: true_api.endpoints.discovery.clone(),
                hosts: true_api.endpoints.hosts.clone(),
                api_key,
            },
            local_module,
            control: control.url.clone(),
            tspiot: tspiot_endpoint,
            kkt: kkt_endpoint,
        };
        Ok(Stack {
            world,
            clock,
            trace,
            faults,
            reqlog,
            fn_auth,
            lm,
            tspiot,
            fn_signer,
            kkt,
            endpoints,
            true_api_options,
            true_api,
            lm_server,
            control,
            tspiot_servers,
            kkt_server,
        })
    }

    /// From the next `cdn/info` on, the discovery host lists these CDN hosts (numbers from 1, in this
    /// order): the list a refresh finds changes (case CDN-LIST-CHANGE).
    pub fn set_cdn_list(&self, numbers: &[usize]) -> Result<(), cdn::CdnListError> {
        self.true_api.listing.set(numbers)
    }

    /// How many CDN hosts the stack runs (listed or not).
    pub fn cdn_host_count(&self) -> usize {
        self.true_api.listing.hosts()
    }

    /// Stop every server and wait for them.
    pub async fn shutdown(self) {
        self.control.shutdown().await;
        if let Some(k) = self.kkt_server {
            k.shutdown().await;
        }
        if let Some(t) = self.tspiot_servers {
            t.shutdown().await;
        }
        self.lm_server.shutdown().await;
        self.true_api.shutdown().await;
    }
}

/// The ЛМ ЧЗ as `opts.lm_start` says: ready means initialised one init duration ago, so that the
/// first snapshot of the world is taken now and `lastSync` is now.
fn local_module(opts: &StackOptions, world: &RwLock<World>, clock: &WorldClock) -> LocalModule {
    let mut module = LocalModule::new(opts.lm.clone());
    if opts.lm_start == LmStart::Ready {
        let now = clock.now_ms();
        let world = world.read().unwrap_or_else(|p| p.into_inner());
        let started = now.saturating_sub(opts.lm.init_duration_ms());
        let req = InitRequest { token: "markcert".into(), clear_sold: None, enable_grey_list: None };
        // `init` refuses only an empty token.
        let _ = module.init(&world, started, req);
        module.advance(&world, now);
    }
    module
}
