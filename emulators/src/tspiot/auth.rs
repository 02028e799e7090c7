//! How the ТС ПИоТ authenticates to the True API (`tspiot.md` §9): the credential it sends.
//! (The token manager comes next in this file.)

/// A credential for one True API call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    /// `X-API-KEY: <token>` (refused after the cut-off).
    XApiKey(String),
    /// `Authorization: Bearer <ФН token>`.
    Bearer(String),
}

impl Credential {
    /// The header name and value to send.
    pub fn header(&self) -> (&'static str, String) {
        match self {
            Credential::XApiKey(k) => ("X-API-KEY", k.clone()),
            Credential::Bearer(t) => ("Authorization", format!("Bearer {t}")),
        }
    }
}
