//! The nodes file (TOML, `[[node]]` entries): name, url, weight, from,
//! headers and ca_cert per node. String values may reference the environment
//! as `${NAME}` (the convention of `foundry.toml`'s `rpc_endpoints`), so keys
//! stay in the environment (an `EnvironmentFile=`, a secret store) and out of
//! the file. Errors name the entry and the field, never a value.

use std::{collections::BTreeMap, collections::HashSet, path::Path, path::PathBuf};

use serde::Deserialize;

use crate::Error;
use crate::{
    config::{Headers, Node},
    node_url::NodeUrl,
    parse::parse_address,
    sanitize::printable,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NodesFile {
    #[serde(default)]
    node: Vec<NodeEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeEntry {
    url: String,
    name: Option<String>,
    weight: Option<u64>,
    from: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    ca_cert: Option<String>,
}

/// Parses a nodes file (TOML, `[[node]]` entries), expanding `${NAME}` from
/// the process environment. A relative `ca_cert` is relative to the file.
pub fn load_nodes_file(path: &Path) -> Result<Vec<Node>, Error> {
    load_nodes_file_within(path, crate::input::DEFAULT_READ_WAIT)
}

/// Like [`load_nodes_file`]; the read gives up after `wait`.
pub fn load_nodes_file_within(path: &Path, wait: std::time::Duration) -> Result<Vec<Node>, Error> {
    let shown = path.display();
    let text = crate::input::read_file(path, "nodes file", crate::input::MAX_NODES_FILE_BYTES, wait)?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut nodes = parse_nodes_toml_with(&text, &|name| std::env::var(name).ok())
        .map_err(|e| Error::Input(format!("nodes file {shown}: {e}")))?;
    for node in &mut nodes {
        if let Some(ca) = &mut node.ca_cert
            && ca.is_relative()
        {
            *ca = base.join(&*ca);
        }
    }
    Ok(nodes)
}

/// Parses the text of a nodes file, expanding `${NAME}` from the process environment.
pub fn parse_nodes_toml(text: &str) -> Result<Vec<Node>, Error> {
    parse_nodes_toml_with(text, &|name| std::env::var(name).ok())
}

/// Parses the text of a nodes file; `env` resolves `${NAME}` references.
pub fn parse_nodes_toml_with(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Vec<Node>, Error> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // toml's own error display quotes the offending source line, which may be a
    // URL with its key: report only the position and the message.
    // Its message quotes offending values too (`invalid type: string "…"`):
    // those are redacted, field names kept.
    let file: NodesFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| {
            text.as_bytes()[..s.start.min(text.len())]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1
        });
        let message = crate::sanitize::clean(&crate::sanitize::redact_quoted(e.message().trim()));
        match line {
            Some(line) => Error::Input(format!("invalid TOML at line {line}: {message}")),
            None => Error::Input(format!("invalid TOML: {message}")),
        }
    })?;
    if file.node.is_empty() {
        return Err(Error::Input("no [[node]] entries".into()));
    }
    let mut names = HashSet::new();
    file.node
        .into_iter()
        .enumerate()
        .map(|(index, entry)| {
            let which = match &entry.name {
                Some(name) => format!("node #{} ({})", index + 1, printable(name)),
                None => format!("node #{}", index + 1),
            };
            let expand = |field: &str, value: &str| {
                expand_env(value, env).map_err(|e| Error::Input(format!("{which}: {field}: {e}")))
            };
            let url = expand("url", &entry.url)?;
            let url = NodeUrl::parse(&url).map_err(|e| Error::Input(format!("{which}: invalid url: {e}")))?;
            let weight = entry.weight.unwrap_or(1);
            if weight == 0 {
                return Err(Error::Input(format!("{which}: weight must be at least 1")));
            }
            let from = match &entry.from {
                Some(from) => Some(
                    parse_address(&expand("from", from)?)
                        .map_err(|e| Error::Input(format!("{which}: invalid from address: {e}")))?,
                ),
                None => None,
            };
            let name = entry.name.as_deref().map(|n| expand("name", n)).transpose()?;
            if let Some(name) = &name {
                if name.trim().is_empty() {
                    return Err(Error::Input(format!("{which}: name is empty")));
                }
                if name.chars().any(crate::sanitize::is_unsafe_char) {
                    return Err(Error::Input(format!(
                        "{which}: name holds control or invisible formatting characters (newline, ESC, bidi override…)"
                    )));
                }
                if !names.insert(name.clone()) {
                    return Err(Error::Input(format!("{which}: duplicate name")));
                }
            }
            let mut headers = Vec::with_capacity(entry.headers.len());
            for (key, value) in &entry.headers {
                let value = expand(&format!("header {}", printable(key)), value)?;
                headers.push((key.clone(), value));
            }
            let headers = Headers::new(headers).map_err(|e| Error::Input(format!("{which}: {e}")))?;
            let ca_cert = entry
                .ca_cert
                .as_deref()
                .map(|c| expand("ca_cert", c).map(PathBuf::from))
                .transpose()?;
            Ok(Node {
                index,
                name,
                url,
                weight,
                from,
                headers,
                ca_cert,
            })
        })
        .collect()
}

/// Why a `${NAME}` reference cannot be expanded. Names the variable, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExpandError {
    /// The variable is not set.
    #[error("environment variable {0} is not set")]
    Unset(String),
    /// `${` without `}`.
    #[error("'${{' without a closing '}}'")]
    Unclosed,
    /// Not a variable name.
    #[error("'${{{0}}}' is not a variable name (letters, digits and _, not starting with a digit)")]
    BadName(String),
}

/// Replaces every `${NAME}` in `value` with `env(NAME)`. A `$` not followed
/// by `{` is kept as is. The result is not re-scanned.
pub fn expand_env(value: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let end = after.find('}').ok_or(ExpandError::Unclosed)?;
        let name = &after[..end];
        let valid = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(ExpandError::BadName(printable(name)));
        }
        out.push_str(&env(name).ok_or_else(|| ExpandError::Unset(name.to_string()))?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "KEY" => Some("SECRETKEY".into()),
            "TOKEN" => Some("tok_SECRET".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_references_and_keeps_other_dollars() {
        assert_eq!(
            expand_env("https://x/v2/${KEY}", &env).unwrap(),
            "https://x/v2/SECRETKEY"
        );
        assert_eq!(expand_env("${KEY}-${TOKEN}", &env).unwrap(), "SECRETKEY-tok_SECRET");
        assert_eq!(expand_env("a$b $ {KEY}", &env).unwrap(), "a$b $ {KEY}");
        assert_eq!(expand_env("x${EMPTY}y", &env).unwrap(), "xy");
        assert_eq!(expand_env("no refs", &env).unwrap(), "no refs");
    }

    #[test]
    fn expansion_errors_name_the_variable_only() {
        assert_eq!(expand_env("a/${NOPE}", &env), Err(ExpandError::Unset("NOPE".into())));
        assert_eq!(expand_env("a/${KEY", &env), Err(ExpandError::Unclosed));
        assert!(matches!(expand_env("${1X}", &env), Err(ExpandError::BadName(_))));
        assert!(matches!(expand_env("${}", &env), Err(ExpandError::BadName(_))));
        assert!(matches!(expand_env("${A-B}", &env), Err(ExpandError::BadName(_))));
    }

    #[test]
    fn nodes_file_values_come_from_the_environment() {
        let nodes = parse_nodes_toml_with(
            r#"
            [[node]]
            name = "alchemy"
            url = "https://eth.example.io/v2/${KEY}"
            headers = { Authorization = "Bearer ${TOKEN}", "X-Team" = "ops" }
            ca_cert = "certs/ca.pem"
            "#,
            &env,
        )
        .unwrap();
        assert_eq!(nodes[0].url.expose().path(), "/v2/SECRETKEY");
        let headers = nodes[0].headers.pairs();
        assert!(headers.contains(&("Authorization".to_string(), "Bearer tok_SECRET".to_string())));
        assert_eq!(nodes[0].ca_cert.as_deref(), Some(Path::new("certs/ca.pem")));
        let debug = format!("{nodes:?}");
        assert!(!debug.contains("SECRET"), "{debug}");
        assert!(debug.contains("Authorization"), "{debug}");
    }

    #[test]
    fn an_unset_variable_names_it_and_the_entry() {
        let err = format!(
            "{:#}",
            parse_nodes_toml_with("[[node]]\nname='a'\nurl='https://x/${ALCHEMY_KEY}'\n", &env).unwrap_err()
        );
        assert!(
            err.contains("ALCHEMY_KEY") && err.contains("node #1 (a)") && err.contains("url"),
            "{err}"
        );
        let err = format!(
            "{:#}",
            parse_nodes_toml_with(
                "[[node]]\nurl='https://x/${KEY}'\nheaders={Authorization='Bearer ${NODE_TOKEN}'}\n",
                &env
            )
            .unwrap_err()
        );
        assert!(err.contains("NODE_TOKEN") && err.contains("Authorization"), "{err}");
        assert!(!err.contains("SECRETKEY"), "{err}");
    }

    #[test]
    fn type_errors_and_unknown_fields_do_not_echo_values() {
        for text in [
            "[[node]]\nurl='https://x/v2/SECRETKEY'\nweight='https://y/v2/SECRETKEY'\n",
            "[[node]]\nurl='https://x/'\n'https://y/SECRETKEY' = 1\n",
            "[[node]]\nurl=['https://x/v2/SECRETKEY']\n",
        ] {
            let err = format!("{:#}", parse_nodes_toml_with(text, &env).unwrap_err());
            assert!(!err.contains("SECRETKEY") && err.contains("line"), "{text}: {err}");
        }
    }

    #[test]
    fn names_cannot_forge_lines() {
        for name in ["a\\nTransaction confirmed: 0x00", "\\u001b[31mred", "safe\\u202etxt"] {
            let text = format!("[[node]]\nname=\"{name}\"\nurl='http://x/'\n");
            let err = format!("{:#}", parse_nodes_toml_with(&text, &env).unwrap_err());
            assert!(err.contains("control or invisible"), "{name}: {err}");
            assert!(
                !err.contains('\n') && !err.contains('\u{1b}') && !err.contains('\u{202e}'),
                "{err}"
            );
        }
    }

    #[test]
    fn bad_headers_are_named_without_their_value() {
        for (toml, culprit) in [
            ("headers={'Bad Name'='v'}", "Bad Name"),
            ("headers={Authorization=\"Bearer ${KEY}\\n\"}", "Authorization"),
            ("headers={Host='evil'}", "Host"),
        ] {
            let text = format!("[[node]]\nurl='https://x/'\n{toml}\n");
            let err = format!("{:#}", parse_nodes_toml_with(&text, &env).unwrap_err());
            assert!(err.contains(culprit), "{toml}: {err}");
            assert!(!err.contains("SECRETKEY") && !err.contains('\n'), "{toml}: {err}");
        }
    }

    #[test]
    fn nodes_file_with_all_fields() {
        let nodes = parse_nodes_toml(
            r#"
            [[node]]
            name = "alpha"
            url = "https://eth.example.com/v2/SECRETKEY"
            weight = 3
            from = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"

            [[node]]
            url = "http://127.0.0.1:8545"
            "#,
        )
        .unwrap();
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[0].label(), "alpha");
        assert_eq!(nodes[0].weight, 3);
        assert!(nodes[0].from.is_some());
        assert_eq!(nodes[1].label(), "http://127.0.0.1:8545");
        assert_eq!(nodes[1].weight, 1);
        assert!(!format!("{nodes:?}").contains("SECRETKEY"));
    }

    #[test]
    fn nodes_file_errors_name_the_node_but_not_the_key() {
        let cases = [
            ("", "no [[node]]"),
            ("[[node]]\nname='a'\n", "line"),
            ("[[node]]\nurl='ftp://x/SECRETKEY'\n", "node #1"),
            ("[[node]]\nurl='http://x/SECRETKEY'\nweight=0\n", "weight"),
            ("[[node]]\nurl='http://x/SECRETKEY'\nweight=-1\n", "line 3"),
            ("[[node]]\nurl='http://x/SECRETKEY'\nfrom='0x12'\n", "from"),
            ("[[node]]\nurl='http://x/SECRETKEY'\ncolour='red'\n", "colour"),
            ("[[node]]\nurl='http://x/SECRETKEY' junk\n", "line 2"),
            (
                "[[node]]\nname='a'\nurl='http://x/1'\n[[node]]\nname='a'\nurl='http://y/2'\n",
                "duplicate",
            ),
        ];
        for (text, expected) in cases {
            let err = format!("{:#}", parse_nodes_toml(text).unwrap_err());
            assert!(err.contains(expected), "{text:?}: {err}");
            assert!(!err.contains("SECRETKEY"), "{text:?}: {err}");
            assert!(!err.contains('\n'), "{text:?}: {err}");
        }
    }
}
