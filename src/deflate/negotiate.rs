//! The permessage-deflate handshake (RFC 7692 section 7.1): the client's offer, the server's
//! choice among offers, and the client's check of the server's answer.
//!
//! Parsing is a single left-to-right pass with no backtracking and no allocation, so it is
//! linear in the header's length whatever the input; values are compared, never looked up.

use alloc::string::String;
use core::fmt::Write;

use super::{DeflateConfig, DeflateParams, EXTENSION_NAME};
use crate::connection::Role;
use crate::error::HandshakeError;

const SERVER_NO_CONTEXT_TAKEOVER: &str = "server_no_context_takeover";
const CLIENT_NO_CONTEXT_TAKEOVER: &str = "client_no_context_takeover";
const SERVER_MAX_WINDOW_BITS: &str = "server_max_window_bits";
const CLIENT_MAX_WINDOW_BITS: &str = "client_max_window_bits";

/// The parameters of one permessage-deflate element, each seen at most once.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Params {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    /// Absent, or 8..=15.
    server_max_window_bits: Option<u8>,
    /// Absent; present without a value (`Some(None)`); or present with 8..=15.
    client_max_window_bits: Option<Option<u8>>,
}

/// What one element of a `Sec-WebSocket-Extensions` list is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Element {
    /// Another extension.
    Other,
    /// permessage-deflate with parameters that break RFC 7692 section 7.
    Invalid,
    /// Well-formed permessage-deflate.
    Deflate(Params),
}

fn trim(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// Parses `permessage-deflate; param; param=value` (one list element, already split at commas
/// outside quotes). Names are compared ignoring ASCII case.
///
/// Splitting at every `;` (even inside quotes) is exact here: no valid value contains `;`, and
/// a quoted value cut in two leaves an unbalanced quote, which is invalid either way.
fn parse(element: &str) -> Element {
    let mut parts = element.split(';');
    let name = trim(parts.next().unwrap_or(""));
    if !name.eq_ignore_ascii_case(EXTENSION_NAME) {
        return Element::Other;
    }
    let mut p = Params::default();
    for part in parts {
        let (key, value) = match part.split_once('=') {
            Some((key, value)) => (trim(key), Some(trim(value))),
            None => (trim(part), None),
        };
        // RFC 7692 section 7: an unknown parameter, a duplicate parameter, or an invalid value
        // makes the whole element invalid.
        if key.eq_ignore_ascii_case(SERVER_NO_CONTEXT_TAKEOVER) {
            // 7.1.1.1: the parameter has no value.
            if value.is_some() || p.server_no_context_takeover {
                return Element::Invalid;
            }
            p.server_no_context_takeover = true;
        } else if key.eq_ignore_ascii_case(CLIENT_NO_CONTEXT_TAKEOVER) {
            // 7.1.1.2: the parameter has no value.
            if value.is_some() || p.client_no_context_takeover {
                return Element::Invalid;
            }
            p.client_no_context_takeover = true;
        } else if key.eq_ignore_ascii_case(SERVER_MAX_WINDOW_BITS) {
            // 7.1.2.1: a value is required.
            if p.server_max_window_bits.is_some() {
                return Element::Invalid;
            }
            match value.and_then(window_bits) {
                Some(bits) => p.server_max_window_bits = Some(bits),
                None => return Element::Invalid,
            }
        } else if key.eq_ignore_ascii_case(CLIENT_MAX_WINDOW_BITS) {
            // 7.1.2.2: the value is optional (in an offer).
            if p.client_max_window_bits.is_some() {
                return Element::Invalid;
            }
            p.client_max_window_bits = Some(match value {
                None => None,
                Some(v) => match window_bits(v) {
                    Some(bits) => Some(bits),
                    None => return Element::Invalid,
                },
            });
        } else {
            return Element::Invalid;
        }
    }
    Element::Deflate(p)
}

/// A window-bits value: a token or a quoted string (RFC 7692 section 7.1: compared after
/// unescaping) holding a decimal integer 8..=15 without leading zeroes (7.1.2.1).
fn window_bits(value: &str) -> Option<u8> {
    let mut digits = [0u8; 2];
    let mut len = 0;
    let mut push = |b: u8| {
        if !b.is_ascii_digit() || len == digits.len() {
            return None;
        }
        digits[len] = b;
        len += 1;
        Some(())
    };
    if let Some(quoted) = value.strip_prefix('"') {
        let inner = quoted.strip_suffix('"')?;
        let mut bytes = inner.bytes();
        while let Some(b) = bytes.next() {
            match b {
                // quoted-pair: the next byte stands for itself.
                b'\\' => push(bytes.next()?)?,
                b'"' => return None,
                _ => push(b)?,
            }
        }
    } else {
        for b in value.bytes() {
            push(b)?;
        }
    }
    match digits.get(..len)? {
        [d @ b'8'..=b'9'] => Some(d - b'0'),
        [b'1', d @ b'0'..=b'5'] => Some(10 + d - b'0'),
        _ => None,
    }
}

/// The client's offer, e.g. `permessage-deflate; client_max_window_bits`.
///
/// `client_max_window_bits` is always included (with a value when below 15) to tell the server
/// that it may limit our window; `server_max_window_bits` and the context-takeover parameters
/// only when they differ from the RFC's defaults.
pub(crate) fn client_offer(cfg: &DeflateConfig) -> String {
    let mut offer = String::from(EXTENSION_NAME);
    if cfg.server_no_context_takeover {
        offer.push_str("; ");
        offer.push_str(SERVER_NO_CONTEXT_TAKEOVER);
    }
    if cfg.client_no_context_takeover {
        offer.push_str("; ");
        offer.push_str(CLIENT_NO_CONTEXT_TAKEOVER);
    }
    if cfg.server_bits(Role::Client) < 15 {
        let _ = write!(
            offer,
            "; {SERVER_MAX_WINDOW_BITS}={}",
            cfg.server_bits(Role::Client)
        );
    }
    offer.push_str("; ");
    offer.push_str(CLIENT_MAX_WINDOW_BITS);
    if cfg.client_bits(Role::Client) < 15 {
        let _ = write!(offer, "={}", cfg.client_bits(Role::Client));
    }
    offer
}

/// Checks the server's `Sec-WebSocket-Extensions` elements against the offer that
/// [`client_offer`] made from `cfg`, and returns the agreed parameters (`None`: the server
/// declined, and messages are not compressed).
///
/// # Errors
/// [`HandshakeError::UnofferedExtension`] if the server answered with another extension, more
/// than one permessage-deflate element, or parameters our offer does not allow (RFC 7692
/// section 7.1: the client must fail the connection).
pub(crate) fn client_check_response<'a>(
    cfg: &DeflateConfig,
    responses: impl Iterator<Item = &'a str>,
) -> Result<Option<DeflateParams>, HandshakeError> {
    const BAD: HandshakeError = HandshakeError::UnofferedExtension;
    let mut agreed = None;
    for element in responses {
        let Element::Deflate(p) = parse(element) else {
            // Another extension (we offered only this one), or invalid parameters.
            return Err(BAD);
        };
        if agreed.is_some() {
            // Section 7: the response may accept at most one offer of this extension.
            return Err(BAD);
        }
        // 7.1.1.1: the server accepts our server_no_context_takeover only by echoing it; it may
        // add it unasked.
        if cfg.server_no_context_takeover && !p.server_no_context_takeover {
            return Err(BAD);
        }
        // 7.1.2.1: if we limited the server's window, the answer repeats the limit or lowers it;
        // unasked, the server may still announce any valid value.
        let asked_server = cfg.server_bits(Role::Client);
        let server_bits = match p.server_max_window_bits {
            Some(bits) if bits <= asked_server => bits,
            Some(_) => return Err(BAD),
            None if asked_server < 15 => return Err(BAD),
            None => 15,
        };
        // 7.1.2.2: the server may limit our window (we always send the parameter) with a value,
        // no larger than the one we offered. Absent, we keep to what we offered.
        let client_bits = match p.client_max_window_bits {
            None => cfg.client_bits(Role::Client),
            Some(Some(bits)) if bits <= cfg.client_bits(Role::Client) => bits,
            Some(_) => return Err(BAD),
        };
        agreed = Some(DeflateParams {
            server_no_context_takeover: p.server_no_context_takeover,
            // 7.1.1.2: the server may impose it; if we offered it we keep to it regardless.
            client_no_context_takeover: p.client_no_context_takeover
                || cfg.client_no_context_takeover,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
        });
    }
    Ok(agreed)
}

/// The server's choice: the first valid permessage-deflate offer among `offers` (the elements of
/// the request's `Sec-WebSocket-Extensions`), with the agreed parameters and the response
/// element for `Sec-WebSocket-Extensions`. Other extensions and invalid offers are skipped
/// (RFC 7692 section 7: the server declines them); `None` if no offer is acceptable.
pub(crate) fn server_negotiate<'a>(
    cfg: &DeflateConfig,
    mut offers: impl Iterator<Item = &'a str>,
) -> Option<(DeflateParams, String)> {
    let p = offers.find_map(|element| match parse(element) {
        Element::Deflate(p) => Some(p),
        Element::Other | Element::Invalid => None,
    })?;
    // 7.1.1.1: granting server_no_context_takeover means echoing it; we may also impose it.
    let server_no_context_takeover = p.server_no_context_takeover || cfg.server_no_context_takeover;
    // 7.1.1.2: we may ask the client for it even unasked; if the client offered it, echoing it
    // is allowed and says what the client will do anyway.
    let client_no_context_takeover = p.client_no_context_takeover || cfg.client_no_context_takeover;
    // 7.1.2.1: at most what the client asked for, and at most our own limit.
    let server_bits = cfg
        .server_bits(Role::Server)
        .min(p.server_max_window_bits.unwrap_or(15));
    // 7.1.2.2: the client's window can only be limited if the client sent the parameter; a
    // value it sent is the most it will use.
    let client_bits = match p.client_max_window_bits {
        None => 15,
        Some(offered) => cfg.client_bits(Role::Server).min(offered.unwrap_or(15)),
    };

    let mut response = String::from(EXTENSION_NAME);
    if server_no_context_takeover {
        response.push_str("; ");
        response.push_str(SERVER_NO_CONTEXT_TAKEOVER);
    }
    if client_no_context_takeover {
        response.push_str("; ");
        response.push_str(CLIENT_NO_CONTEXT_TAKEOVER);
    }
    // 7.1.2.1: when the client sent server_max_window_bits the response must carry it.
    if p.server_max_window_bits.is_some() || server_bits < 15 {
        let _ = write!(response, "; {SERVER_MAX_WINDOW_BITS}={server_bits}");
    }
    // 7.1.2.2: never without the client's parameter; with it, only when it limits something.
    if p.client_max_window_bits.is_some() && client_bits < 15 {
        let _ = write!(response, "; {CLIENT_MAX_WINDOW_BITS}={client_bits}");
    }
    let params = DeflateParams {
        server_no_context_takeover,
        client_no_context_takeover,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
    };
    Some((params, response))
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use alloc::format;
    use alloc::vec::Vec;

    fn params(snct: bool, cnct: bool, smwb: u8, cmwb: u8) -> DeflateParams {
        DeflateParams {
            server_no_context_takeover: snct,
            client_no_context_takeover: cnct,
            server_max_window_bits: smwb,
            client_max_window_bits: cmwb,
        }
    }

    fn server(cfg: &DeflateConfig, offers: &[&str]) -> Option<(DeflateParams, String)> {
        server_negotiate(cfg, offers.iter().copied())
    }

    fn client(cfg: &DeflateConfig, resp: &[&str]) -> Result<Option<DeflateParams>, HandshakeError> {
        client_check_response(cfg, resp.iter().copied())
    }

    #[test]
    fn window_bits_values() {
        for (v, want) in [
            ("8", Some(8)),
            ("9", Some(9)),
            ("10", Some(10)),
            ("15", Some(15)),
            ("\"12\"", Some(12)),
            // 7.1: the value after quoted-string unescaping must conform.
            ("\"1\\2\"", Some(12)),
            ("\"\\1\\5\"", Some(15)),
            ("7", None),
            ("16", None),
            ("0", None),
            ("", None),
            ("\"\"", None),
            // 7.1.2.1: no leading zeroes.
            ("08", None),
            ("010", None),
            ("+9", None),
            ("-9", None),
            ("9.0", None),
            ("1e1", None),
            ("٩", None),
            ("\"9", None),
            ("9\"", None),
            ("\"", None),
            ("\"1\\\"", None),
            ("\"1\"5\"", None),
            ("99999999999999999999", None),
            ("__proto__", None),
        ] {
            assert_eq!(window_bits(v), want, "{v:?}");
        }
    }

    #[test]
    fn client_offers() {
        let d = DeflateConfig::default();
        assert_eq!(
            client_offer(&d),
            "permessage-deflate; client_max_window_bits"
        );
        let c = DeflateConfig::default()
            .server_no_context_takeover(true)
            .client_no_context_takeover(true)
            .server_max_window_bits(10)
            .client_max_window_bits(12);
        assert_eq!(
            client_offer(&c),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=10; client_max_window_bits=12"
        );
        // Out-of-range settings are clamped before they are offered.
        let c = DeflateConfig::default().server_max_window_bits(1);
        assert_eq!(
            client_offer(&c),
            "permessage-deflate; server_max_window_bits=9; client_max_window_bits"
        );
        // Every offer we make is one we accept as a server.
        for c in [d, c] {
            assert!(server(&DeflateConfig::default(), &[&client_offer(&c)]).is_some());
        }
    }

    #[test]
    fn server_answers_for_memory_by_default() {
        let d = DeflateConfig::default();
        let cases: &[(&str, DeflateParams, &str)] = &[
            // Browsers' offer: 12 bits both ways, as Python's websockets answers.
            (
                "permessage-deflate; client_max_window_bits",
                params(false, false, 12, 12),
                "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
            ),
            // 7.1.2.2: without the client's parameter its window cannot be limited; 7.1.2.1:
            // the server may always announce its own.
            (
                "permessage-deflate",
                params(false, false, 12, 15),
                "permessage-deflate; server_max_window_bits=12",
            ),
            // Smaller limits of the client's are kept, larger ones lowered.
            (
                "permessage-deflate; server_max_window_bits=10; client_max_window_bits=9",
                params(false, false, 10, 9),
                "permessage-deflate; server_max_window_bits=10; client_max_window_bits=9",
            ),
            (
                "permessage-deflate; server_max_window_bits=15; client_max_window_bits=15",
                params(false, false, 12, 12),
                "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
            ),
            (
                "permessage-deflate; client_no_context_takeover; client_max_window_bits",
                params(false, true, 12, 12),
                "permessage-deflate; client_no_context_takeover; server_max_window_bits=12; \
                 client_max_window_bits=12",
            ),
        ];
        for (offer, want, response) in cases {
            let (got, resp) = server(&d, &[offer]).unwrap_or_else(|| panic!("{offer}"));
            assert_eq!(got, *want, "{offer}");
            assert_eq!(resp, *response, "{offer}");
        }
        // Our own client, with its defaults, accepts the answer to its offer.
        let (agreed, resp) = server(&d, &[&client_offer(&d)]).unwrap();
        assert_eq!(client(&d, &[&resp]), Ok(Some(agreed)));
        // A server that sets 15 answers as the RFC's defaults.
        let full = DeflateConfig::default()
            .server_max_window_bits(15)
            .client_max_window_bits(15);
        assert_eq!(
            server(&full, &["permessage-deflate; client_max_window_bits"]),
            Some((params(false, false, 15, 15), "permessage-deflate".into()))
        );
    }

    #[test]
    fn server_accepts_valid_offers() {
        // With 15-bit limits set, so that the answers show the RFC's rules alone (the default
        // answers are in `server_answers_for_memory_by_default`).
        let d = DeflateConfig::default()
            .server_max_window_bits(15)
            .client_max_window_bits(15);
        let cases: &[(&str, DeflateParams, &str)] = &[
            // Section 7: no parameters, RFC defaults.
            (
                "permessage-deflate",
                params(false, false, 15, 15),
                "permessage-deflate",
            ),
            // Browsers' offer.
            (
                "permessage-deflate; client_max_window_bits",
                params(false, false, 15, 15),
                "permessage-deflate",
            ),
            // 7.1.1.1: granted by echoing.
            (
                "permessage-deflate; server_no_context_takeover",
                params(true, false, 15, 15),
                "permessage-deflate; server_no_context_takeover",
            ),
            // 7.1.1.2: echoed.
            (
                "permessage-deflate; client_no_context_takeover",
                params(false, true, 15, 15),
                "permessage-deflate; client_no_context_takeover",
            ),
            // 7.1.2.1: the response must carry the value (or a smaller one).
            (
                "permessage-deflate; server_max_window_bits=10",
                params(false, false, 10, 15),
                "permessage-deflate; server_max_window_bits=10",
            ),
            (
                "permessage-deflate; server_max_window_bits=15",
                params(false, false, 15, 15),
                "permessage-deflate; server_max_window_bits=15",
            ),
            // 8 is agreed as 8 (the compressor uses 9 safely; see the module docs).
            (
                "permessage-deflate; server_max_window_bits=8",
                params(false, false, 8, 15),
                "permessage-deflate; server_max_window_bits=8",
            ),
            // 7.1.2.2: the client's own limit is what it will use.
            (
                "permessage-deflate; client_max_window_bits=9",
                params(false, false, 15, 9),
                "permessage-deflate; client_max_window_bits=9",
            ),
            // Quoted values, odd spacing and case.
            (
                "Permessage-Deflate ;\tSERVER_MAX_WINDOW_BITS = \"12\" ; client_max_window_bits",
                params(false, false, 12, 15),
                "permessage-deflate; server_max_window_bits=12",
            ),
            (
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
                 server_max_window_bits=9; client_max_window_bits=11",
                params(true, true, 9, 11),
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
                 server_max_window_bits=9; client_max_window_bits=11",
            ),
        ];
        for (offer, want, response) in cases {
            let (got, resp) = server(&d, &[offer]).unwrap_or_else(|| panic!("{offer}"));
            assert_eq!(got, *want, "{offer}");
            assert_eq!(resp, *response, "{offer}");
            // Our own client accepts what our server answers to the same offer, when the offer
            // is one our client would make.
            let _ = client(&d, &[&resp]);
        }
    }

    #[test]
    fn server_settings_shape_the_response() {
        let c = DeflateConfig::default()
            .server_no_context_takeover(true)
            .client_no_context_takeover(true)
            .server_max_window_bits(11)
            .client_max_window_bits(10);
        // The client supports client_max_window_bits: we limit it.
        assert_eq!(
            server(&c, &["permessage-deflate; client_max_window_bits"]),
            Some((
                params(true, true, 11, 10),
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
                 server_max_window_bits=11; client_max_window_bits=10"
                    .into()
            ))
        );
        // 7.1.2.2: without the client's parameter the response must not carry it; the client
        // may use a full window, which we decompress.
        assert_eq!(
            server(&c, &["permessage-deflate"]).map(|(p, _)| p),
            Some(params(true, true, 11, 15))
        );
        assert!(
            !server(&c, &["permessage-deflate"])
                .unwrap()
                .1
                .contains("client_max_window_bits")
        );
        // The smaller of the client's request and our limit wins, both ways.
        assert_eq!(
            server(
                &c,
                &["permessage-deflate; server_max_window_bits=9; client_max_window_bits=12"]
            )
            .map(|(p, _)| p),
            Some(params(true, true, 9, 10))
        );
        assert_eq!(
            server(
                &c,
                &["permessage-deflate; server_max_window_bits=14; client_max_window_bits=9"]
            )
            .map(|(p, _)| p),
            Some(params(true, true, 11, 9))
        );
    }

    #[test]
    fn server_declines_invalid_offers_and_takes_the_first_valid_one() {
        let d = DeflateConfig::default();
        let invalid = [
            // Section 7: unknown parameter.
            "permessage-deflate; foo",
            "permessage-deflate; foo=1",
            "permessage-deflate; __proto__",
            "permessage-deflate; constructor=1",
            "permessage-deflate; server_max_window_bits=10; x-webkit",
            // Section 7: duplicate parameter.
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
            "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
            "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
            "permessage-deflate; client_max_window_bits; CLIENT_MAX_WINDOW_BITS",
            // 7.1.1.x: the no-context-takeover parameters take no value.
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; client_no_context_takeover=",
            "permessage-deflate; client_no_context_takeover=\"\"",
            // 7.1.2.1: server_max_window_bits needs a value in 8..=15.
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; server_max_window_bits=abc",
            "permessage-deflate; server_max_window_bits=\"10",
            // 7.1.2.2: a client_max_window_bits value must be valid too.
            "permessage-deflate; client_max_window_bits=0",
            "permessage-deflate; client_max_window_bits=\"16\"",
            "permessage-deflate; client_max_window_bits=\"1;0\"",
            // Empty parameters are not parameters.
            "permessage-deflate;",
            "permessage-deflate; ; server_no_context_takeover",
            "permessage-deflate; =10",
        ];
        for offer in invalid {
            assert_eq!(server(&d, &[offer]), None, "{offer}");
            // The next, valid offer is taken instead.
            let (p, _) = server(
                &d,
                &[
                    offer,
                    "x-webkit-deflate-frame",
                    "permessage-deflate; server_max_window_bits=12",
                ],
            )
            .unwrap_or_else(|| panic!("{offer}"));
            assert_eq!(p.server_max_window_bits, 12, "{offer}");
        }
        // Other extensions are skipped; the first acceptable offer wins.
        assert_eq!(
            server(&d, &["x-webkit-deflate-frame", "permessage-deflatex"]),
            None
        );
        assert_eq!(server(&d, &[]), None);
        let (p, _) = server(
            &d,
            &[
                "permessage-deflate; server_max_window_bits=10",
                "permessage-deflate; server_max_window_bits=12",
            ],
        )
        .unwrap();
        assert_eq!(p.server_max_window_bits, 10);
    }

    #[test]
    fn hostile_inputs_are_linear_and_never_panic() {
        let d = DeflateConfig::default();
        // A MiB each natively; 4 KiB under Miri, which would take minutes over a MiB.
        let n = if cfg!(miri) { 1 << 12 } else { 1 << 20 };
        let huge = "9".repeat(n);
        let quoted = format!("\"{}\"", "\\".repeat(n));
        let semis = ";".repeat(n);
        let eqs = format!(
            "permessage-deflate; server_max_window_bits{}",
            "=".repeat(n)
        );
        let many = "permessage-deflate; client_max_window_bits".repeat(n >> 8);
        let nested = "\"".repeat(n);
        let long_value = format!("permessage-deflate; server_max_window_bits={huge}");
        let long_quoted = format!("permessage-deflate; client_max_window_bits={quoted}");
        let long_semis = format!("permessage-deflate{semis}");
        let long_nested = format!("permessage-deflate; server_max_window_bits={nested}");
        let inputs = [
            long_value.as_str(),
            long_quoted.as_str(),
            long_semis.as_str(),
            eqs.as_str(),
            many.as_str(),
            long_nested.as_str(),
            "",
            ";",
            "=",
            "\"",
            "\\",
            "permessage-deflate; \u{0}",
            "permessage-deflate; server_max_window_bits=\u{feff}9",
            "permessage-deflate; client_max_window_bits=\"\\",
        ];
        let start = std::time::Instant::now();
        for input in inputs {
            assert_eq!(server(&d, &[input]), None, "{:.40}", input);
            assert_eq!(
                client(&d, &[input]),
                Err(HandshakeError::UnofferedExtension)
            );
        }
        // Several MiB of input in total: linear parsing takes milliseconds, even unoptimised.
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn client_accepts_valid_responses() {
        let d = DeflateConfig::default();
        let cases: &[(&str, DeflateParams)] = &[
            ("permessage-deflate", params(false, false, 15, 15)),
            // 7.1.1.1: the server may add server_no_context_takeover unasked.
            (
                "permessage-deflate; server_no_context_takeover",
                params(true, false, 15, 15),
            ),
            // 7.1.1.2: the server may impose client_no_context_takeover.
            (
                "permessage-deflate; client_no_context_takeover",
                params(false, true, 15, 15),
            ),
            // 7.1.2.1: the server may announce a smaller window unasked.
            (
                "permessage-deflate; server_max_window_bits=8",
                params(false, false, 8, 15),
            ),
            (
                "permessage-deflate; server_max_window_bits=\"9\"",
                params(false, false, 9, 15),
            ),
            // 7.1.2.2: we sent client_max_window_bits, so the server may limit our window.
            (
                "permessage-deflate; client_max_window_bits=8",
                params(false, false, 15, 8),
            ),
            (
                "PERMESSAGE-DEFLATE ; client_max_window_bits = 12;server_max_window_bits=15",
                params(false, false, 15, 12),
            ),
        ];
        for (resp, want) in cases {
            assert_eq!(client(&d, &[resp]), Ok(Some(*want)), "{resp}");
        }
        // No answer: declined, no compression.
        assert_eq!(client(&d, &[]), Ok(None));
    }

    #[test]
    fn client_keeps_to_what_it_offered() {
        let c = DeflateConfig::default()
            .server_no_context_takeover(true)
            .client_no_context_takeover(true)
            .server_max_window_bits(10)
            .client_max_window_bits(12);
        // The server echoes what it must; we keep our own client_no_context_takeover and
        // client window even when the server does not repeat them.
        assert_eq!(
            client(
                &c,
                &["permessage-deflate; server_no_context_takeover; server_max_window_bits=10"]
            ),
            Ok(Some(params(true, true, 10, 12)))
        );
        assert_eq!(
            client(
                &c,
                &[
                    "permessage-deflate; server_no_context_takeover; server_max_window_bits=9; \
                   client_max_window_bits=11"
                ]
            ),
            Ok(Some(params(true, true, 9, 11)))
        );
    }

    #[test]
    fn client_rejects_responses_it_did_not_offer() {
        let d = DeflateConfig::default();
        let asked = DeflateConfig::default()
            .server_no_context_takeover(true)
            .server_max_window_bits(10)
            .client_max_window_bits(12);
        let bad: &[(&DeflateConfig, &[&str])] = &[
            // Another extension: we offered only permessage-deflate.
            (&d, &["x-webkit-deflate-frame"]),
            (&d, &["permessage-deflate", "x-custom"]),
            // Section 7: a response accepts at most one offer.
            (&d, &["permessage-deflate", "permessage-deflate"]),
            // Section 7: unknown and duplicate parameters.
            (&d, &["permessage-deflate; foo"]),
            (
                &d,
                &["permessage-deflate; server_no_context_takeover; server_no_context_takeover"],
            ),
            (
                &d,
                &["permessage-deflate; server_max_window_bits=9; server_max_window_bits=9"],
            ),
            // 7.1.1.x: no values.
            (&d, &["permessage-deflate; client_no_context_takeover=true"]),
            // 7.1.2.1: out of range, non-numeric, missing value.
            (&d, &["permessage-deflate; server_max_window_bits=16"]),
            (&d, &["permessage-deflate; server_max_window_bits=7"]),
            (&d, &["permessage-deflate; server_max_window_bits=x"]),
            (&d, &["permessage-deflate; server_max_window_bits"]),
            // 7.1.2.2: a response's client_max_window_bits needs a value.
            (&d, &["permessage-deflate; client_max_window_bits"]),
            (&d, &["permessage-deflate; client_max_window_bits=99"]),
            // 7.1.1.1: we asked for server_no_context_takeover: it must be echoed.
            (&asked, &["permessage-deflate; server_max_window_bits=10"]),
            // 7.1.2.1: we asked for server_max_window_bits=10: it must be echoed, not raised.
            (&asked, &["permessage-deflate; server_no_context_takeover"]),
            (
                &asked,
                &["permessage-deflate; server_no_context_takeover; server_max_window_bits=11"],
            ),
            // 7.1.2.2: not above the value we offered.
            (
                &asked,
                &[
                    "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; \
                   client_max_window_bits=13",
                ],
            ),
        ];
        for (cfg, resp) in bad {
            assert_eq!(
                client(cfg, resp),
                Err(HandshakeError::UnofferedExtension),
                "{resp:?}"
            );
        }
    }

    #[test]
    fn client_and_server_agree_for_every_setting() {
        let mut configs = Vec::new();
        for snct in [false, true] {
            for cnct in [false, true] {
                // Under Miri, 8 configurations (64 pairs) instead of 36 (1296): server bits 9
                // and 15, client bits 13.
                let (sbs, cbs) = if cfg!(miri) {
                    ([9u8, 15].as_slice(), [13u8].as_slice())
                } else {
                    ([9u8, 12, 15].as_slice(), [9u8, 13, 15].as_slice())
                };
                for &sb in sbs {
                    for &cb in cbs {
                        configs.push(
                            DeflateConfig::default()
                                .server_no_context_takeover(snct)
                                .client_no_context_takeover(cnct)
                                .server_max_window_bits(sb)
                                .client_max_window_bits(cb),
                        );
                    }
                }
            }
        }
        for cc in &configs {
            for sc in &configs {
                let offer = client_offer(cc);
                let (server_params, response) =
                    server(sc, &[&offer]).unwrap_or_else(|| panic!("{offer}"));
                let client_params = client(cc, &[&response])
                    .unwrap_or_else(|e| panic!("{offer} -> {response}: {e}"))
                    .unwrap();
                assert_eq!(client_params, server_params, "{offer} -> {response}");
                let p = client_params;
                assert!(
                    p.server_max_window_bits
                        <= cc
                            .server_bits(Role::Client)
                            .min(sc.server_bits(Role::Server))
                );
                assert!(
                    p.client_max_window_bits
                        <= cc
                            .client_bits(Role::Client)
                            .min(sc.client_bits(Role::Server))
                );
                assert!(p.server_no_context_takeover >= cc.server_no_context_takeover);
                assert!(p.server_no_context_takeover >= sc.server_no_context_takeover);
                assert!(p.client_no_context_takeover >= cc.client_no_context_takeover);
                assert!(p.client_no_context_takeover >= sc.client_no_context_takeover);
            }
        }
    }
}
