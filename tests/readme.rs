//! The README's runnable blocks: every command can be pasted as is (no `0x…`
//! or `YOUR_` placeholders, no elisions), and every `quorum-check` command in
//! them parses with the real flag definitions.

use clap::Parser;
use quorum_check::cli::Cli;

/// The commands of every ```sh block: continuation lines joined, comments
/// and redirections dropped, `a && b` split.
fn sh_commands(readme: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_sh = false;
    let mut pending = String::new();
    for line in readme.lines() {
        if line.trim_start().starts_with("```") {
            in_sh = line.trim() == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        let code = match line.find(" #") {
            Some(i) => &line[..i],
            None => line,
        };
        if let Some(head) = code.trim_end().strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(code);
        let full = std::mem::take(&mut pending);
        for command in full.split("&&") {
            let command = command.split('>').next().unwrap_or("");
            let command = command.split_whitespace().collect::<Vec<_>>().join(" ");
            if !command.is_empty() {
                out.push(command);
            }
        }
    }
    out
}

/// Splits like a shell for the simple quoting the README uses.
fn words(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in command.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            (None, c) => word.push(c),
        }
    }
    if any || !word.is_empty() {
        out.push(word);
    }
    out
}

#[test]
fn every_readme_command_can_be_pasted_as_is() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let commands = sh_commands(&readme);
    assert!(commands.len() >= 10, "{commands:?}");
    let mut checked = 0;
    for command in &commands {
        for placeholder in ["…", "0x…", "YOUR_", "<", "[--"] {
            assert!(
                !command.contains(placeholder),
                "placeholder {placeholder:?} in: {command}"
            );
        }
        let mut words = words(command);
        if words[0] == "quorum-check" {
            // Commands after "configuration comes from .env" take the contract from there.
            if ["check", "watch", "serve"].contains(&words[1].as_str()) && !words.iter().any(|w| w == "--contract") {
                words.extend(["--contract".into(), "0x5FbDB2315678afecb367f032d93F642f64180aa3".into()]);
            }
            if let Err(e) = Cli::try_parse_from(&words) {
                panic!("README command does not parse: {command}\n{e}");
            }
            checked += 1;
        } else {
            assert!(
                ["npm", "cargo"].contains(&words[0].as_str()),
                "unexpected program: {command}"
            );
        }
    }
    assert!(checked >= 7, "{checked} quorum-check commands");
}

#[test]
fn the_splitter_handles_the_readme_quoting() {
    assert_eq!(
        words("quorum-check check --function 'vote(bytes32)(bool)' --x \"a b\""),
        [
            "quorum-check",
            "check",
            "--function",
            "vote(bytes32)(bool)",
            "--x",
            "a b"
        ]
    );
    assert_eq!(
        sh_commands("```sh\na \\\n  b # note\nc && d > file\n```\n"),
        ["a b", "c", "d"]
    );
}

#[test]
fn the_library_snippet_is_the_compiled_example() {
    // README's ```rust block under "As a library" is examples/library.rs
    // (which `cargo test` builds) from its `// Cargo.toml:` line on.
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/library.rs")).unwrap();
    let code = &example[example.find("\n// Cargo.toml:").expect("marker in the example") + 1..];
    let section = &readme[readme.find("## As a library").expect("section")..];
    let start = section.find("```rust\n").expect("a rust block") + "```rust\n".len();
    let block = &section[start..start + section[start..].find("```\n").expect("closed block")];
    assert_eq!(block, code, "README's library snippet differs from examples/library.rs");
    for dependency in ["tokio", "serde_json"] {
        assert!(
            block.contains(dependency),
            "the snippet names its dependency {dependency}"
        );
    }
}

#[test]
fn the_nodes_file_examples_build_as_written() {
    // README's nodes file and examples/nodes.toml, with their ${VARS} set:
    // a checker builds from them (a ca_cert they name must exist).
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = &readme[readme.find("### Nodes file").expect("section")..];
    let start = section.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let block = &section[start..start + section[start..].find("```\n").expect("closed block")];
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/nodes.toml")).unwrap();
    let env = |name: &str| Some(format!("fake-{name}"));
    for (what, text) in [("README", block), ("examples/nodes.toml", example.as_str())] {
        let nodes =
            quorum_check::nodes_file::parse_nodes_toml_with(text, &env).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(nodes.len() >= 2, "{what}");
        let mut builder =
            quorum_check::Checker::builder().contract("0x5FbDB2315678afecb367f032d93F642f64180aa3".parse().unwrap());
        for node in nodes {
            builder = builder.node(node);
        }
        builder.build().unwrap_or_else(|e| panic!("{what}: {e}"));
    }
}
