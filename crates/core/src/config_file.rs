//! The config file as a file: reading it (every mistake named with its line and field, at
//! load rather than at the first request), and writing it back in place, so the user's
//! comments, order and formatting survive `budget set` or `index add`.

use std::path::Path;

use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, Value};

use crate::config::Config;
use crate::{CoreError, Result};

/// USD per million tokens above which a price is a typo: the dearest models list well under
/// a thousand.
const MAX_PRICE: f64 = 10_000.0;

/// A path into the TOML tree: `providers[1].base_url` is `[Key("providers"), Index(1), Key("base_url")]`.
#[derive(Clone, Copy, Debug)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// Parses and checks the config text; errors say `line N: field: problem`.
pub fn parse(text: &str, path: &Path) -> Result<Config> {
    let bad = |reason: String| CoreError::Config { path: path.to_path_buf(), reason };
    let config: Config = toml::from_str(text).map_err(|e| {
        let message = e.message().lines().next().unwrap_or("invalid TOML").to_string();
        match e.span() {
            Some(span) => bad(format!("line {}: {message}", line_at(text, span.start))),
            None => bad(message),
        }
    })?;
    if let Some((at, problem)) = first_problem(&config) {
        let field = at
            .iter()
            .map(|s| match s {
                Step::Key(k) => format!(".{k}"),
                Step::Index(i) => format!("[{}]", i + 1),
            })
            .collect::<String>();
        let field = field.trim_start_matches('.');
        let reason = match line_of(text, &at) {
            Some(line) => format!("line {line}: {field}: {problem}"),
            None => format!("{field}: {problem}"),
        };
        return Err(bad(reason));
    }
    Ok(config)
}

/// The first value serde accepts but Frugal cannot use.
fn first_problem(c: &Config) -> Option<(Vec<Step<'static>>, String)> {
    use Step::{Index, Key};
    for (i, p) in c.providers.iter().enumerate() {
        for (key, value) in [("name", &p.name), ("base_url", &p.base_url), ("model", &p.model)] {
            if value.trim().is_empty() {
                return Some((vec![Key("providers"), Index(i), Key(key)], "must not be empty".into()));
            }
        }
        if c.providers[..i].iter().any(|q| q.name.eq_ignore_ascii_case(&p.name)) {
            return Some((
                vec![Key("providers"), Index(i), Key("name")],
                format!("two providers are named `{}`", p.name),
            ));
        }
        if let Err(why) = check_url(&p.base_url) {
            return Some((vec![Key("providers"), Index(i), Key("base_url")], why));
        }
        for (key, v) in [("timeout_secs", p.timeout_secs), ("idle_secs", p.idle_secs)] {
            if v.is_some_and(|v| !(1..=3600).contains(&v)) {
                return Some((vec![Key("providers"), Index(i), Key(key)], "must be 1 to 3600 seconds".into()));
            }
        }
        if p.max_retries.is_some_and(|n| n > 10) {
            return Some((vec![Key("providers"), Index(i), Key("max_retries")], "must be 0 to 10".into()));
        }
    }
    let b = &c.budget;
    for (key, v) in [("monthly_usd", b.monthly_usd), ("daily_usd", b.daily_usd), ("per_request_usd", b.per_request_usd)]
    {
        if v.is_some_and(|v| !(v.is_finite() && (0.0..=1_000_000.0).contains(&v))) {
            return Some((vec![Key("budget"), Key(key)], "must be a number of dollars from 0 to 1,000,000".into()));
        }
    }
    for (i, p) in c.prices.iter().enumerate() {
        let fields = [("input", Some(p.input)), ("output", Some(p.output))];
        let optional = [("cached_input", p.cached_input), ("cache_write", p.cache_write)];
        for (key, v) in fields.into_iter().chain(optional) {
            if v.is_some_and(|v| !(v.is_finite() && (0.0..=MAX_PRICE).contains(&v))) {
                return Some((
                    vec![Key("prices"), Index(i), Key(key)],
                    format!("must be USD per million tokens from 0 to {MAX_PRICE}"),
                ));
            }
        }
        if p.model.trim().is_empty() {
            return Some((vec![Key("prices"), Index(i), Key("model")], "must not be empty".into()));
        }
    }
    let m = &c.model;
    if m.context.is_some_and(|n| !(256..=10_000_000).contains(&n)) {
        return Some((vec![Key("model"), Key("context")], "must be 256 to 10,000,000 tokens".into()));
    }
    if m.threads.is_some_and(|n| !(1..=1024).contains(&n)) {
        return Some((vec![Key("model"), Key("threads")], "must be 1 to 1024".into()));
    }
    if c.index.max_file_mb.is_some_and(|n| !(1..=4096).contains(&n)) {
        return Some((vec![Key("index"), Key("max_file_mb")], "must be 1 to 4096 MB".into()));
    }
    if c.index.threads.is_some_and(|n| !(1..=64).contains(&n)) {
        return Some((vec![Key("index"), Key("threads")], "must be 1 to 64".into()));
    }
    if c.transcribe.threads.is_some_and(|n| !(1..=256).contains(&n)) {
        return Some((vec![Key("transcribe"), Key("threads")], "must be 1 to 256".into()));
    }
    if c.transcribe
        .language
        .as_deref()
        .is_some_and(|l| l.len() < 2 || l.len() > 8 || !l.chars().all(|c| c.is_ascii_alphabetic()))
    {
        return Some((vec![Key("transcribe"), Key("language")], "must be a language code such as en or de".into()));
    }
    let g = &c.gateway;
    if g.port == Some(0) {
        return Some((vec![Key("gateway"), Key("port")], "must be 1 to 65535".into()));
    }
    if g.host.as_deref().is_some_and(|h| h.trim().is_empty() || h.contains(['/', ' '])) {
        return Some((vec![Key("gateway"), Key("host")], "must be an address such as 127.0.0.1".into()));
    }
    if g.cache_ttl_secs.is_some_and(|n| n > 30 * 86_400) {
        return Some((vec![Key("gateway"), Key("cache_ttl_secs")], "must be 0 to 2,592,000 seconds (30 days)".into()));
    }
    if g.cache_max_mb.is_some_and(|n| n > 4096) {
        return Some((vec![Key("gateway"), Key("cache_max_mb")], "must be 0 to 4096 MB".into()));
    }
    for (i, o) in g.cors_origins.iter().enumerate() {
        if let Err(why) = check_origin(o) {
            return Some((vec![Key("gateway"), Key("cors_origins"), Index(i)], why));
        }
    }
    None
}

/// An API root Frugal can call: `http(s)://host[:port]/path`.
fn check_url(text: &str) -> std::result::Result<(), String> {
    let shown = without_credentials(text.trim());
    let url = reqwest::Url::parse(text.trim()).map_err(|e| format!("`{shown}` is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("`{shown}` must be an https:// (or http://) address"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{shown}` has no host"));
    }
    Ok(())
}

/// A web origin a browser sends: `*`, or `scheme://host[:port]` with nothing after it.
fn check_origin(text: &str) -> std::result::Result<(), String> {
    if text == "*" {
        return Ok(());
    }
    let shown: String = text.chars().filter(|c| !c.is_control()).take(80).collect();
    let url = reqwest::Url::parse(text).map_err(|e| format!("`{shown}` is not an origin ({e})"))?;
    let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none() && !text.ends_with('/');
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() || !bare || !url.username().is_empty() {
        return Err(format!("`{shown}` is not an origin: write it as http://host[:port] (no path), or `*`"));
    }
    Ok(())
}

/// A URL for a message, with any `user:password@` masked: errors never carry secrets.
fn without_credentials(text: &str) -> String {
    match text.split_once("://") {
        Some((scheme, rest)) => match rest.split('/').next().and_then(|authority| authority.rsplit_once('@')) {
            Some((_, host)) => format!("{scheme}://…@{host}{}", &rest[rest.find('/').unwrap_or(rest.len())..]),
            None => text.to_string(),
        },
        None => text.to_string(),
    }
}

/// The 1-based line of byte `offset`.
fn line_at(text: &str, offset: usize) -> usize {
    text.get(..offset.min(text.len())).map_or(1, |t| t.bytes().filter(|b| *b == b'\n').count() + 1)
}

/// The line where the value at `at` is written, if the file spells it out.
fn line_of(text: &str, at: &[Step<'_>]) -> Option<usize> {
    enum Node<'a> {
        Item(&'a Item),
        Table(&'a Table),
    }
    let doc = toml_edit::Document::parse(text).ok()?;
    let mut node = Node::Table(doc.as_table());
    for step in at {
        node = match (step, node) {
            (Step::Key(k), Node::Item(i)) => Node::Item(i.get(k)?),
            (Step::Key(k), Node::Table(t)) => Node::Item(t.get(k)?),
            (Step::Index(n), Node::Item(Item::ArrayOfTables(a))) => Node::Table(a.get(*n)?),
            (Step::Index(n), Node::Item(Item::Value(Value::Array(a)))) => {
                return a.get(*n)?.span().map(|s| line_at(text, s.start))
            }
            _ => return None,
        };
    }
    let span = match node {
        Node::Item(i) => i.span(),
        Node::Table(t) => t.span(),
    };
    span.map(|s| line_at(text, s.start))
}

/// Writes `config` to `path`, editing the file in place: values that did not change keep
/// their formatting and comments, removed keys go, new ones are added (defaults are left
/// unwritten). Atomic: a sibling file is written and renamed over the original.
pub fn save(path: &Path, config: &Config) -> Result<()> {
    let bad = |reason: String| CoreError::Config { path: path.to_path_buf(), reason };
    let fresh: DocumentMut =
        toml::to_string_pretty(config).map_err(|e| bad(e.to_string()))?.parse().map_err(|e| bad(format!("{e}")))?;
    let defaults: DocumentMut = toml::to_string_pretty(&Config::default())
        .map_err(|e| bad(e.to_string()))?
        .parse()
        .map_err(|e| bad(format!("{e}")))?;
    let mut doc = match std::fs::read_to_string(path) {
        Ok(text) => text.parse::<DocumentMut>().unwrap_or_default(),
        Err(_) => DocumentMut::new(),
    };
    merge_table(doc.as_table_mut(), fresh.as_table(), Some(defaults.as_table()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(CoreError::io("cannot create", dir))?;
    }
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, doc.to_string()).map_err(CoreError::io("cannot write", &tmp))?;
    std::fs::rename(&tmp, path).map_err(CoreError::io("cannot write", path))
}

/// Makes `old` say what `new` says, touching only what differs.
fn merge_table(old: &mut Table, new: &Table, defaults: Option<&Table>) {
    let gone: Vec<String> = old.iter().map(|(k, _)| k.to_string()).filter(|k| !new.contains_key(k)).collect();
    for k in gone {
        old.remove(&k);
    }
    for (key, item) in new.iter() {
        let default = defaults.and_then(|d| d.get(key));
        match (old.get_mut(key), item) {
            (Some(Item::Table(o)), Item::Table(n)) => merge_table(o, n, default.and_then(Item::as_table)),
            (Some(Item::ArrayOfTables(o)), Item::ArrayOfTables(n)) => merge_array(o, n),
            (Some(Item::Value(o)), Item::Value(n)) => {
                if !same_value(o, n) {
                    let decor = o.decor().clone();
                    *o = n.clone();
                    *o.decor_mut() = decor;
                }
            }
            (Some(o), n) => *o = n.clone(),
            (None, Item::Table(n)) => {
                let mut t = Table::new();
                // A header only where the table has keys of its own (`[[index.folders]]`
                // needs no empty `[index]` above it).
                t.set_implicit(true);
                merge_table(&mut t, n, default.and_then(Item::as_table));
                // Sub-tables that hold only defaults are not worth a header.
                if !t.is_empty() {
                    old.insert(key, Item::Table(t));
                }
            }
            (None, n) => {
                let is_default = matches!((default, n), (Some(Item::Value(d)), Item::Value(v)) if same_value(d, v));
                if !is_default {
                    old.insert(key, n.clone());
                }
            }
        }
    }
}

/// `[[providers]]`, `[[index.folders]]`, `[[prices]]`: entries are matched by what names
/// them (name, path, model + vendor), so removing the second of three keeps the third's
/// comments with it.
fn merge_array(old: &mut ArrayOfTables, new: &ArrayOfTables) {
    let identity = |t: &Table| -> String {
        ["name", "path", "model", "vendor"]
            .iter()
            .filter_map(|k| t.get(k).and_then(Item::as_str))
            .collect::<Vec<_>>()
            .join("\u{0}")
    };
    let mut pool: Vec<Table> = old.iter().cloned().collect();
    let mut merged = ArrayOfTables::new();
    for n in new.iter() {
        let mut t = match pool.iter().position(|o| identity(o) == identity(n)) {
            Some(i) => pool.remove(i),
            None => Table::new(),
        };
        merge_table(&mut t, n, Some(&entry_defaults()));
        merged.push(t);
    }
    *old = merged;
}

/// The defaults of `[[providers]]` entries that serialization spells out: not written into an
/// entry that leaves them out. A folder's `local_only` is written either way: whether text may
/// leave the machine is worth seeing in the file.
fn entry_defaults() -> Table {
    let mut t = Table::new();
    t.insert("tier", toml_edit::value("economy"));
    t
}

/// Whether two values are the same data, whatever their spelling ('x' and "x", 1e3 and 1000.0).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.value() == y.value(),
        (Value::Integer(x), Value::Integer(y)) => x.value() == y.value(),
        (Value::Float(x), Value::Float(y)) => x.value() == y.value(),
        // `monthly_usd = 5` and 5.0 are one amount: the user's spelling stays.
        (Value::Integer(x), Value::Float(y)) | (Value::Float(y), Value::Integer(x)) => *x.value() as f64 == *y.value(),
        (Value::Boolean(x), Value::Boolean(y)) => x.value() == y.value(),
        (Value::Datetime(x), Value::Datetime(y)) => x.value() == y.value(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(a, b)| same_value(a, b))
        }
        (Value::InlineTable(x), Value::InlineTable(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_in_messages_carry_no_credentials() {
        assert_eq!(super::without_credentials("https://me:pw@host.test/v1"), "https://…@host.test/v1");
        assert_eq!(super::without_credentials("https://host.test/v1"), "https://host.test/v1");
        let e = super::check_url("ftp://me:pw@host.test").unwrap_err();
        assert!(!e.contains("pw"), "{e}");
    }

    #[test]
    fn the_gateway_section_is_checked_with_its_line() {
        let path = std::path::Path::new("config.toml");
        let ok = super::parse(
            "[gateway]\nenabled = true\nport = 5151\ncors_origins = [\"*\", \"https://app.test:8443\"]\n",
            path,
        );
        let g = ok.map(|c| c.gateway).unwrap_or_default();
        assert!(g.enabled && g.port() == 5151 && g.host() == "127.0.0.1" && g.cors_origins.len() == 2);
        for (text, field) in [
            ("[gateway]\nport = 0\n", "line 2: gateway.port"),
            ("[gateway]\ncors_origins = [\"http://a.test/x\"]\n", "line 2: gateway.cors_origins[1]"),
            ("[gateway]\ncors_origins = [\"a.test\"]\n", "gateway.cors_origins[1]"),
            ("[gateway]\ncache_ttl_secs = 99999999\n", "line 2: gateway.cache_ttl_secs"),
            ("[gateway]\nhost = \"\"\n", "line 2: gateway.host"),
        ] {
            let e = super::parse(text, path).map(|_| String::new()).unwrap_or_else(|e| e.to_string());
            assert!(e.contains(field), "{text}: {e}");
        }
    }
}
