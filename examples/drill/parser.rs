//! The script syntax: a parser for packetdrill-style `.pkt` files.
//!
//! Written from the syntax as the scripts use it (not from packetdrill's
//! source). A script is a list of lines:
//!
//! - `--name=value` options before the first event (`--tolerance_usecs`,
//!   `--ip_version`, `--mtu`);
//! - `#ifdef NAME` / `#ifndef NAME` / `#else` / `#endif` blocks, resolved here
//!   with only the symbols the caller defines (the runner defines `STANDARD`);
//! - events, each starting with a time: `0.10` (absolute, from the start of
//!   the script), `+0.10` (relative to the previous event's script time) or
//!   `*` (any time), followed by one of
//!   - `< FLAGS start:end(len) [ack N] [win N] [<options>]`: a segment the
//!     script's side sends to pollnet;
//!   - `> FLAGS ...`: a segment pollnet must send (`...(len)` leaves the
//!     sequence number open);
//!   - `name(arg, ...) = result [ERRNO] [(comment)]`: a system call;
//!   - `` `shell command` ``: a `sysctl -w`, a `sockstat | grep -c STATE |
//!     grep N` state count, or anything else (kept as text);
//!   - `%{ assert tcpi_state == TCPI_STATE }%`: state assertions (the block
//!     may span lines).
//!
//! `//` starts a comment; `/* ... */` comments may span lines. Times are
//! kept in whole microseconds, parsed from the decimal text without floating
//! point.

use std::collections::HashSet;
use std::fmt;

use pollnet::wire::TcpFlags;

/// A syntax error: the line, what the parser wanted, and what it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What was expected there.
    pub expected: String,
    /// What was found.
    pub got: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "{}: expected {}, got {}",
            self.line, self.expected, self.got
        )
    }
}

fn error<T>(
    line: usize,
    expected: impl Into<String>,
    got: impl Into<String>,
) -> Result<T, ParseError> {
    Err(ParseError {
        line,
        expected: expected.into(),
        got: got.into(),
    })
}

/// A whole script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// `--tolerance_usecs`, if given.
    pub tolerance_usecs: Option<u64>,
    /// `--ip_version`, if given.
    pub ip_version: Option<String>,
    /// `--mtu` (packetdrill's: the device's MTU), if given.
    pub mtu: Option<usize>,
    /// Every other `--name=value` option, in order.
    pub other_options: Vec<(String, String)>,
    /// The events in order, with `#ifdef` blocks already resolved.
    pub events: Vec<Event>,
}

/// One event line (or block).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// 1-based line number where the event starts.
    pub line: usize,
    /// When it happens.
    pub time: EventTime,
    /// What happens.
    pub action: Action,
    /// The event's text without its time, for messages.
    pub text: String,
}

/// An event's time, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventTime {
    /// From the start of the script.
    Absolute(i64),
    /// From the previous event's script time.
    Relative(i64),
    /// Whenever: an outbound segment at any time, anything else at once.
    Any,
}

/// What an event does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `<`: a segment to deliver to pollnet.
    Inject(Segment),
    /// `>`: a segment pollnet must send.
    Expect(Segment),
    /// A system call and its expected result.
    Syscall(Syscall),
    /// A backtick shell line.
    Shell(Shell),
    /// A `%{ ... }%` block of assertions.
    Assert(Vec<Assertion>),
}

/// A TCP segment as a script line describes it. Sequence and
/// acknowledgment numbers are relative (see the runner).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The control bits.
    pub flags: TcpFlags,
    /// The first sequence number, or `None` for `...` (any).
    pub seq: Option<u32>,
    /// The payload length.
    pub len: u32,
    /// The acknowledgment number after `ack`, if given: the raw field, which
    /// is meaningful only with the ACK flag (`.`).
    pub ack: Option<u32>,
    /// The window after `win`, if given.
    pub window: Option<u32>,
    /// The option list in `<...>`, if given.
    pub options: Option<Vec<SegmentOption>>,
}

/// One TCP option in a segment's `<...>` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentOption {
    /// `mss N`.
    Mss(u16),
    /// `wscale N`.
    WindowScale(u8),
    /// `sackOK`.
    SackPermitted,
    /// `sack L:R ...`: blocks, relative like the sequence numbers.
    Sack(Vec<(u32, u32)>),
    /// `TS val N ecr N`.
    Timestamp {
        /// TSval.
        val: u32,
        /// TSecr.
        ecr: u32,
    },
    /// `nop`.
    Nop,
    /// `eol`.
    Eol,
}

/// A system call line: `name(args) = result [ERRNO] [(text)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Syscall {
    /// The call's name (`socket`, `connect`, ...).
    pub name: String,
    /// The arguments.
    pub args: Vec<Arg>,
    /// The expected return value.
    pub result: i64,
    /// The expected errno name when the result is -1.
    pub errno: Option<String>,
}

/// A system call argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// `...`: whatever the runner supplies.
    Ellipsis,
    /// A number.
    Int(i64),
    /// A symbolic constant (`SOCK_STREAM`, `ECONNRESET`, ...).
    Symbol(String),
    /// `A | B`.
    Or(Vec<Arg>),
    /// `[x, ...]`: a value passed or returned by reference.
    List(Vec<Arg>),
    /// `"text"`.
    Str(String),
}

/// A backtick shell line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shell {
    /// `sysctl -w name=value`.
    Sysctl {
        /// The variable.
        name: String,
        /// The value, as text.
        value: String,
    },
    /// `sockstat ... [-p PORT] ... | grep -c STATE | grep N`: exactly N
    /// sockets (with PORT as local or remote port) are in STATE.
    StateCount {
        /// The state's name as sockstat prints it (`TIME_WAIT`, ...).
        state: String,
        /// The port filter.
        port: Option<u16>,
        /// The expected count.
        count: usize,
    },
    /// Anything else, verbatim.
    Other(String),
}

/// One assertion in a `%{ }%` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assertion {
    /// `assert tcpi_state == TCPI_NAME`: the name after `TCPI_`.
    TcpiState(String),
}

/// Parses `text` with `defined` as the `#ifdef` symbols.
pub fn parse(text: &str, defined: &[&str]) -> Result<Script, ParseError> {
    let defined: HashSet<&str> = defined.iter().copied().collect();
    let lines = preprocess(text, &defined)?;
    let mut script = Script {
        tolerance_usecs: None,
        ip_version: None,
        mtu: None,
        other_options: Vec::new(),
        events: Vec::new(),
    };
    let mut index = 0;
    while index < lines.len() {
        let (line_no, line) = (lines[index].0, lines[index].1.trim());
        index += 1;
        if line.is_empty() {
            continue;
        }
        if let Some(option) = line.strip_prefix("--") {
            if !script.events.is_empty() {
                return error(line_no, "an event (options come first)", line);
            }
            let (name, value) = option.split_once('=').unwrap_or((option, ""));
            match name {
                "tolerance_usecs" => {
                    let usecs = value
                        .parse()
                        .or_else(|_| error(line_no, "a number of microseconds", value))?;
                    script.tolerance_usecs = Some(usecs);
                }
                "ip_version" => script.ip_version = Some(value.to_string()),
                "mtu" => {
                    let mtu = value
                        .parse()
                        .or_else(|_| error(line_no, "an MTU in bytes", value))?;
                    script.mtu = Some(mtu);
                }
                _ => script
                    .other_options
                    .push((name.to_string(), value.to_string())),
            }
            continue;
        }
        let (time, rest) = parse_time(line_no, line)?;
        let rest = rest.trim();
        let action = if let Some(body) = rest.strip_prefix("%{") {
            // Gather lines up to the closing `}%`.
            let mut block = String::new();
            let mut current = body.to_string();
            loop {
                if let Some(end) = current.find("}%") {
                    block.push_str(&current[..end]);
                    let after = current[end + 2..].trim();
                    if !after.is_empty() {
                        return error(line_no, "end of line after }%", after);
                    }
                    break;
                }
                block.push_str(&current);
                block.push('\n');
                let Some((_, next)) = lines.get(index) else {
                    return error(line_no, "}% closing the %{ block", "end of file");
                };
                current = next.clone();
                index += 1;
            }
            Action::Assert(parse_assertions(line_no, &block)?)
        } else if let Some(body) = rest.strip_prefix('`') {
            let Some(command) = body.strip_suffix('`') else {
                return error(line_no, "a closing backtick", rest);
            };
            Action::Shell(parse_shell(line_no, command)?)
        } else if let Some(body) = rest.strip_prefix('<') {
            Action::Inject(parse_segment(line_no, body)?)
        } else if let Some(body) = rest.strip_prefix('>') {
            Action::Expect(parse_segment(line_no, body)?)
        } else {
            Action::Syscall(parse_syscall(line_no, rest)?)
        };
        script.events.push(Event {
            line: line_no,
            time,
            action,
            text: squeeze(rest),
        });
    }
    Ok(script)
}

/// Collapses runs of whitespace, for messages.
fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Strips comments and resolves `#ifdef` blocks; returns numbered lines.
fn preprocess(text: &str, defined: &HashSet<&str>) -> Result<Vec<(usize, String)>, ParseError> {
    // Each open conditional: (line it opened on, whether its branch is
    // active, whether an #else was seen).
    let mut stack: Vec<(usize, bool, bool)> = Vec::new();
    let mut in_block_comment = false;
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let mut line = String::new();
        let mut rest = raw;
        loop {
            if in_block_comment {
                match rest.find("*/") {
                    Some(end) => {
                        rest = &rest[end + 2..];
                        in_block_comment = false;
                    }
                    None => break,
                }
            } else {
                let line_comment = rest.find("//");
                let block_comment = rest.find("/*");
                match (line_comment, block_comment) {
                    (Some(l), Some(b)) if b < l => {
                        line.push_str(&rest[..b]);
                        rest = &rest[b + 2..];
                        in_block_comment = true;
                    }
                    (None, Some(b)) => {
                        line.push_str(&rest[..b]);
                        rest = &rest[b + 2..];
                        in_block_comment = true;
                    }
                    (Some(l), _) => {
                        line.push_str(&rest[..l]);
                        break;
                    }
                    (None, None) => {
                        line.push_str(rest);
                        break;
                    }
                }
            }
        }
        let trimmed = line.trim();
        let active = stack.iter().all(|&(_, on, _)| on);
        if let Some(directive) = trimmed.strip_prefix('#') {
            let mut words = directive.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some("ifdef"), Some(name), None) => {
                    stack.push((line_no, defined.contains(name), false));
                }
                (Some("ifndef"), Some(name), None) => {
                    stack.push((line_no, !defined.contains(name), false));
                }
                (Some("else"), None, None) => match stack.last_mut() {
                    Some((_, on, seen_else)) if !*seen_else => {
                        *on = !*on;
                        *seen_else = true;
                    }
                    _ => return error(line_no, "#else inside one #ifdef", trimmed),
                },
                (Some("endif"), None, None) => {
                    if stack.pop().is_none() {
                        return error(line_no, "#endif after an #ifdef", trimmed);
                    }
                }
                _ => {
                    return error(
                        line_no,
                        "#ifdef NAME, #ifndef NAME, #else or #endif",
                        trimmed,
                    );
                }
            }
            continue;
        }
        if active {
            out.push((line_no, line));
        }
    }
    if let Some(&(line_no, _, _)) = stack.last() {
        return error(line_no, "#endif closing this #ifdef", "end of file");
    }
    if in_block_comment {
        return error(text.lines().count(), "*/ closing a comment", "end of file");
    }
    Ok(out)
}

/// Parses a decimal number of seconds (`0.10`, `2`, `1.000001`) into
/// microseconds.
fn parse_seconds(text: &str) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if fraction.len() > 6 {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut micros: i64 = 0;
    for (i, digit) in fraction.bytes().enumerate() {
        micros += i64::from(digit - b'0') * 10_i64.pow(5 - i as u32);
    }
    whole.checked_mul(1_000_000)?.checked_add(micros)
}

fn parse_time(line_no: usize, line: &str) -> Result<(EventTime, &str), ParseError> {
    let end = line.find(char::is_whitespace).unwrap_or(line.len());
    let (token, rest) = line.split_at(end);
    let time = if token == "*" {
        EventTime::Any
    } else if let Some(relative) = token.strip_prefix('+') {
        match parse_seconds(relative) {
            Some(us) => EventTime::Relative(us),
            None => return error(line_no, "a time (+seconds, seconds or *)", token),
        }
    } else {
        match parse_seconds(token) {
            Some(us) => EventTime::Absolute(us),
            None => return error(line_no, "a time (+seconds, seconds or *)", token),
        }
    };
    Ok((time, rest))
}

fn parse_u32(line_no: usize, what: &str, text: &str) -> Result<u32, ParseError> {
    let parsed = if let Some(hex) = text.strip_prefix("0x") {
        u32::from_str_radix(hex, 16).ok()
    } else {
        text.parse().ok()
    };
    parsed.map_or_else(|| error(line_no, what, text), Ok)
}

fn parse_flags(line_no: usize, token: &str) -> Result<TcpFlags, ParseError> {
    let mut flags = TcpFlags::empty();
    for c in token.chars() {
        let flag = match c {
            'S' => TcpFlags::SYN,
            'F' => TcpFlags::FIN,
            'R' => TcpFlags::RST,
            'P' => TcpFlags::PSH,
            '.' => TcpFlags::ACK,
            'U' => TcpFlags::URG,
            'E' => TcpFlags::ECE,
            'W' => TcpFlags::CWR,
            _ => return error(line_no, "TCP flags (S F R P . U E W)", token),
        };
        if flags.contains(flag) {
            return error(line_no, "each flag once", token);
        }
        flags |= flag;
    }
    Ok(flags)
}

fn parse_segment(line_no: usize, body: &str) -> Result<Segment, ParseError> {
    // The option list is the last `<...>`; its contents hold spaces.
    let (head, options) = match body.find('<') {
        Some(open) => {
            let tail = body[open + 1..].trim_end();
            let Some(inner) = tail.strip_suffix('>') else {
                return error(line_no, "an option list closed by >", &body[open..]);
            };
            (&body[..open], Some(parse_options(line_no, inner)?))
        }
        None => (body, None),
    };
    let mut words = head.split_whitespace();
    let Some(flags_token) = words.next() else {
        return error(line_no, "TCP flags", "end of line");
    };
    let flags = parse_flags(line_no, flags_token)?;
    let Some(seq_token) = words.next() else {
        return error(line_no, "start:end(len)", "end of line");
    };
    let Some((range, len_text)) = seq_token.strip_suffix(')').and_then(|s| s.split_once('('))
    else {
        return error(line_no, "start:end(len)", seq_token);
    };
    let len = parse_u32(line_no, "a payload length", len_text)?;
    let seq = if range == "..." {
        None
    } else {
        let Some((start, end)) = range.split_once(':') else {
            return error(line_no, "start:end(len)", seq_token);
        };
        let start = parse_u32(line_no, "a sequence number", start)?;
        let end = parse_u32(line_no, "a sequence number", end)?;
        if end.wrapping_sub(start) != len {
            return error(
                line_no,
                format!("end - start = len in {seq_token}"),
                format!("{}", end.wrapping_sub(start)),
            );
        }
        Some(start)
    };
    let mut segment = Segment {
        flags,
        seq,
        len,
        ack: None,
        window: None,
        options,
    };
    while let Some(word) = words.next() {
        let Some(value) = words.next() else {
            return error(line_no, format!("a value after {word}"), "end of line");
        };
        match word {
            // Without the `.` flag the number still fills the raw field,
            // as the suite's `< F 3:3(0) ack 2` (a FIN without ACK) needs.
            "ack" => segment.ack = Some(parse_u32(line_no, "an acknowledgment number", value)?),
            "win" => segment.window = Some(parse_u32(line_no, "a window", value)?),
            _ => return error(line_no, "ack N, win N or <options>", word),
        }
    }
    Ok(segment)
}

fn parse_options(line_no: usize, inner: &str) -> Result<Vec<SegmentOption>, ParseError> {
    let mut options = Vec::new();
    for item in inner.split(',') {
        let words: Vec<&str> = item.split_whitespace().collect();
        let option = match words.as_slice() {
            [] => continue,
            ["mss", n] => {
                let mss = parse_u32(line_no, "an MSS", n)?;
                match u16::try_from(mss) {
                    Ok(mss) => SegmentOption::Mss(mss),
                    Err(_) => return error(line_no, "an MSS below 65536", *n),
                }
            }
            ["wscale", n] => {
                let shift = parse_u32(line_no, "a window scale", n)?;
                match u8::try_from(shift) {
                    Ok(shift) => SegmentOption::WindowScale(shift),
                    Err(_) => return error(line_no, "a window scale below 256", *n),
                }
            }
            ["sackOK"] => SegmentOption::SackPermitted,
            ["nop"] => SegmentOption::Nop,
            ["eol"] => SegmentOption::Eol,
            ["TS", "val", val, "ecr", ecr] => SegmentOption::Timestamp {
                val: parse_u32(line_no, "a TSval", val)?,
                ecr: parse_u32(line_no, "a TSecr", ecr)?,
            },
            ["sack", blocks @ ..] if !blocks.is_empty() => {
                let mut ranges = Vec::new();
                for block in blocks {
                    let Some((left, right)) = block.split_once(':') else {
                        return error(line_no, "a SACK block L:R", *block);
                    };
                    ranges.push((
                        parse_u32(line_no, "a sequence number", left)?,
                        parse_u32(line_no, "a sequence number", right)?,
                    ));
                }
                SegmentOption::Sack(ranges)
            }
            _ => {
                return error(
                    line_no,
                    "a TCP option (mss N, wscale N, sackOK, sack L:R, TS val N ecr N, nop, eol)",
                    item.trim(),
                );
            }
        };
        options.push(option);
    }
    Ok(options)
}

/// Splits `text` at top-level commas (outside brackets and quotes).
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '[' | '{' | '(' if !quoted => depth += 1,
            ']' | '}' | ')' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn parse_arg(line_no: usize, text: &str) -> Result<Arg, ParseError> {
    let text = text.trim();
    if text == "..." {
        return Ok(Arg::Ellipsis);
    }
    if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        let items = if inner.trim().is_empty() {
            Vec::new()
        } else {
            split_top_level(inner)
                .into_iter()
                .map(|item| parse_arg(line_no, item))
                .collect::<Result<_, _>>()?
        };
        return Ok(Arg::List(items));
    }
    if let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        return Ok(Arg::Str(inner.to_string()));
    }
    if text.contains('|') {
        let items = text
            .split('|')
            .map(|item| parse_arg(line_no, item))
            .collect::<Result<_, _>>()?;
        return Ok(Arg::Or(items));
    }
    if let Some(value) = parse_int(text) {
        return Ok(Arg::Int(value));
    }
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Ok(Arg::Symbol(text.to_string()));
    }
    error(
        line_no,
        "an argument (number, SYMBOL, A|B, [..], ...)",
        text,
    )
}

fn parse_int(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let value = if let Some(hex) = digits.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()?
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()?
    } else {
        return None;
    };
    Some(if negative { -value } else { value })
}

fn parse_syscall(line_no: usize, text: &str) -> Result<Syscall, ParseError> {
    let Some(open) = text.find('(') else {
        return error(
            line_no,
            "an event (<, >, syscall(...), `shell`, %{ }%)",
            text,
        );
    };
    let name = text[..open].trim();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return error(line_no, "a system call name", name);
    }
    // Find the parenthesis that closes the argument list.
    let mut depth = 0i32;
    let mut close = None;
    for (i, c) in text[open..].char_indices() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(open + i);
                    break;
                }
            }
            _ => {}
        }
    }
    let Some(close) = close else {
        return error(line_no, "a closing ) after the arguments", text);
    };
    let inner = &text[open + 1..close];
    let args = if inner.trim().is_empty() {
        Vec::new()
    } else {
        split_top_level(inner)
            .into_iter()
            .map(|arg| parse_arg(line_no, arg))
            .collect::<Result<_, _>>()?
    };
    let rest = text[close + 1..].trim();
    let Some(result_text) = rest.strip_prefix('=') else {
        return error(line_no, "= result", rest);
    };
    let mut words = result_text.split_whitespace();
    let Some(value_text) = words.next() else {
        return error(line_no, "a result value", "end of line");
    };
    let Some(result) = parse_int(value_text) else {
        return error(line_no, "a result value", value_text);
    };
    let remainder: Vec<&str> = words.collect();
    let remainder = remainder.join(" ");
    let (errno, comment) = match remainder.find('(') {
        Some(paren) => (remainder[..paren].trim(), Some(remainder[paren..].trim())),
        None => (remainder.trim(), None),
    };
    if let Some(comment) = comment {
        if !comment.ends_with(')') {
            return error(line_no, "a (comment) closed by )", comment);
        }
    }
    let errno = if errno.is_empty() {
        None
    } else if errno
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        Some(errno.to_string())
    } else {
        return error(line_no, "an errno name", errno);
    };
    if errno.is_some() && result != -1 {
        return error(line_no, "-1 before an errno name", value_text);
    }
    Ok(Syscall {
        name: name.to_string(),
        args,
        result,
        errno,
    })
}

fn parse_shell(line_no: usize, command: &str) -> Result<Shell, ParseError> {
    let stages: Vec<Vec<&str>> = command
        .split('|')
        .map(|stage| stage.split_whitespace().collect())
        .collect();
    match stages.first().map(Vec::as_slice) {
        Some(["sysctl", "-w", assignment]) if stages.len() == 1 => {
            let Some((name, value)) = assignment.split_once('=') else {
                return error(line_no, "sysctl -w name=value", command);
            };
            Ok(Shell::Sysctl {
                name: name.to_string(),
                value: value.to_string(),
            })
        }
        Some(["sockstat", options @ ..]) => {
            let port = match options.iter().position(|&o| o == "-p") {
                Some(at) => {
                    let Some(port) = options.get(at + 1).and_then(|p| p.parse().ok()) else {
                        return error(line_no, "a port after -p", command);
                    };
                    Some(port)
                }
                None => None,
            };
            // `grep -c STATE` counts; the last `grep N` checks the count;
            // other greps (the process name) select nothing we model.
            let mut state = None;
            let mut count = None;
            for stage in &stages[1..] {
                match stage.as_slice() {
                    ["grep", "-c", name] => state = Some(name.to_string()),
                    ["grep", value] if state.is_some() => {
                        count =
                            Some(value.parse().or_else(|_| {
                                error(line_no, "a count after the last grep", *value)
                            })?);
                    }
                    ["grep", _] => {}
                    _ => return error(line_no, "grep stages after sockstat", command),
                }
            }
            match (state, count) {
                (Some(state), Some(count)) => Ok(Shell::StateCount { state, port, count }),
                _ => error(line_no, "sockstat ... | grep -c STATE | grep N", command),
            }
        }
        _ => Ok(Shell::Other(command.trim().to_string())),
    }
}

fn parse_assertions(line_no: usize, block: &str) -> Result<Vec<Assertion>, ParseError> {
    let mut assertions = Vec::new();
    for statement in block.split(['\n', ';']) {
        let words: Vec<&str> = statement.split_whitespace().collect();
        match words.as_slice() {
            [] => {}
            ["assert", "tcpi_state", "==", value] => match value.strip_prefix("TCPI_") {
                Some(state) => assertions.push(Assertion::TcpiState(state.to_string())),
                None => return error(line_no, "TCPI_<STATE>", *value),
            },
            _ => {
                return error(
                    line_no,
                    "assert tcpi_state == TCPI_<STATE>",
                    statement.trim(),
                );
            }
        }
    }
    if assertions.is_empty() {
        return error(line_no, "an assertion in %{ }%", "an empty block");
    }
    Ok(assertions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> Event {
        let script = parse(line, &["STANDARD"]).unwrap();
        assert_eq!(script.events.len(), 1, "{line}");
        script.events.into_iter().next().unwrap()
    }

    #[test]
    fn times_are_exact_microseconds() {
        assert_eq!(parse_seconds("0.10"), Some(100_000));
        assert_eq!(parse_seconds("2.00"), Some(2_000_000));
        assert_eq!(parse_seconds("1"), Some(1_000_000));
        assert_eq!(parse_seconds("0.000001"), Some(1));
        assert_eq!(parse_seconds(".5"), Some(500_000));
        assert_eq!(parse_seconds("0.0000001"), None);
        assert_eq!(parse_seconds("1e3"), None);
        assert_eq!(one("+0.10 close(3) = 0").time, EventTime::Relative(100_000));
        assert_eq!(
            one(" 1.00 close(3) = 0").time,
            EventTime::Absolute(1_000_000)
        );
        assert_eq!(one("* close(3) = 0").time, EventTime::Any);
    }

    #[test]
    fn inbound_segment_with_options() {
        let event = one("+0.00 < S  0:0(0)       win 32767 <mss 1460,sackOK,eol,eol>");
        assert_eq!(
            event.action,
            Action::Inject(Segment {
                flags: TcpFlags::SYN,
                seq: Some(0),
                len: 0,
                ack: None,
                window: Some(32767),
                options: Some(vec![
                    SegmentOption::Mss(1460),
                    SegmentOption::SackPermitted,
                    SegmentOption::Eol,
                    SegmentOption::Eol,
                ]),
            })
        );
        assert_eq!(event.text, "< S 0:0(0) win 32767 <mss 1460,sackOK,eol,eol>");
    }

    #[test]
    fn outbound_segments() {
        let event =
            one("+0.00 > S 0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>");
        let Action::Expect(segment) = event.action else {
            panic!("not an expectation");
        };
        assert_eq!(
            segment.options.unwrap(),
            vec![
                SegmentOption::Mss(1460),
                SegmentOption::Nop,
                SegmentOption::WindowScale(6),
                SegmentOption::SackPermitted,
                SegmentOption::Timestamp { val: 100, ecr: 0 },
            ]
        );
        let Action::Expect(segment) = one("+0.00 > S.     ...(0)     ack 65537 win 65535").action
        else {
            panic!("not an expectation");
        };
        assert_eq!(segment.seq, None);
        assert_eq!(segment.ack, Some(65537));
        assert_eq!(segment.flags, TcpFlags::SYN | TcpFlags::ACK);
        let Action::Expect(segment) = one("+0.00 > R. 0:0(0) ack 21 win 0").action else {
            panic!("not an expectation");
        };
        assert_eq!(segment.flags, TcpFlags::RST | TcpFlags::ACK);
        assert_eq!(segment.window, Some(0));
        let Action::Inject(segment) =
            one("+0 < P. 17:20(3) ack 34 win 100 <sack 5:10 20:30>").action
        else {
            panic!("not an injection");
        };
        assert_eq!(segment.flags, TcpFlags::PSH | TcpFlags::ACK);
        assert_eq!(
            segment.options.unwrap(),
            vec![SegmentOption::Sack(vec![(5, 10), (20, 30)])]
        );
    }

    #[test]
    fn segment_errors() {
        let err = parse("+0 < S 0:3(2) win 1", &[]).unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.expected.contains("end - start = len"), "{err}");
        assert!(parse("+0 < Q 0:0(0)", &[]).is_err());
        assert!(parse("+0 < S 0:0(0) win 1 <mss 1460", &[]).is_err());
        assert!(parse("+0 < S 0:0(0) win 1 <frob 3>", &[]).is_err());
        assert!(parse("+0 < S 0:0(0) win", &[]).is_err());
    }

    #[test]
    fn syscalls() {
        let Action::Syscall(call) =
            one("+0.00 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)").action
        else {
            panic!("not a syscall");
        };
        assert_eq!(call.name, "connect");
        assert_eq!(call.args, vec![Arg::Int(3), Arg::Ellipsis, Arg::Ellipsis]);
        assert_eq!(call.result, -1);
        assert_eq!(call.errno.as_deref(), Some("EINPROGRESS"));

        let Action::Syscall(call) = one("+0.00 fcntl(3, F_GETFL) = 0x02 (flags O_RDWR)").action
        else {
            panic!("not a syscall");
        };
        assert_eq!(call.result, 2);
        assert_eq!(call.errno, None);

        let Action::Syscall(call) = one("+0.00 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0").action
        else {
            panic!("not a syscall");
        };
        assert_eq!(
            call.args[2],
            Arg::Or(vec![
                Arg::Symbol("O_RDWR".into()),
                Arg::Symbol("O_NONBLOCK".into())
            ])
        );

        let Action::Syscall(call) =
            one("+0.00 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNRESET], [4]) = 0").action
        else {
            panic!("not a syscall");
        };
        assert_eq!(
            call.args[3],
            Arg::List(vec![Arg::Symbol("ECONNRESET".into())])
        );
        assert_eq!(call.args[4], Arg::List(vec![Arg::Int(4)]));

        assert!(
            parse("+0 close(3) = 0 ENOENT", &[]).is_err(),
            "errno needs -1"
        );
        assert!(parse("+0 close(3 = 0", &[]).is_err());
        assert!(parse("+0 close(3)", &[]).is_err());
    }

    #[test]
    fn shell_lines() {
        assert_eq!(
            one("+0.00 `sysctl -w net.inet.tcp.insecure_rst=1`").action,
            Action::Shell(Shell::Sysctl {
                name: "net.inet.tcp.insecure_rst".into(),
                value: "1".into()
            })
        );
        assert_eq!(
            one("+0.10 `sockstat -4 -P tcp -s | grep packetdril | grep -c TIME_WAIT | grep 1`")
                .action,
            Action::Shell(Shell::StateCount {
                state: "TIME_WAIT".into(),
                port: None,
                count: 1
            })
        );
        assert_eq!(
            one("+0.10 `sockstat -4 -P tcp -s -p 8080 | grep -c SYN_RCVD | grep 0`").action,
            Action::Shell(Shell::StateCount {
                state: "SYN_RCVD".into(),
                port: Some(8080),
                count: 0
            })
        );
        assert_eq!(
            one("+0.00 `tcpdrop -s TIME_WAIT`").action,
            Action::Shell(Shell::Other("tcpdrop -s TIME_WAIT".into()))
        );
        assert!(parse("+0 `sysctl -w x=1", &[]).is_err());
    }

    #[test]
    fn assertion_blocks() {
        assert_eq!(
            one("+0.00 %{ assert tcpi_state == TCPI_SYN_RECEIVED }%").action,
            Action::Assert(vec![Assertion::TcpiState("SYN_RECEIVED".into())])
        );
        let script = parse(
            "+0 %{\nassert tcpi_state == TCPI_ESTABLISHED\nassert tcpi_state == TCPI_ESTABLISHED\n}%\n+0 close(3) = 0\n",
            &[],
        )
        .unwrap();
        assert_eq!(script.events.len(), 2);
        assert_eq!(script.events[1].line, 5);
        assert!(parse("+0 %{ print(tcpi_rtt) }%", &[]).is_err());
        assert!(parse("+0 %{ assert tcpi_state == TCPI_CLOSE", &[]).is_err());
    }

    #[test]
    fn conditionals_and_comments() {
        let text = "--tolerance_usecs=75000\n// c\n#ifdef STANDARD\n+0 close(3) = 0 // trailing\n#else\n+0 close(4) = 0\n#endif\n#ifdef FreeBSD\n+0 close(5) = 0\n#endif\n/* a\n b */ +0 close(6) = 0\n";
        let script = parse(text, &["STANDARD"]).unwrap();
        assert_eq!(script.tolerance_usecs, Some(75000));
        let closed: Vec<_> = script
            .events
            .iter()
            .map(|e| match &e.action {
                Action::Syscall(call) => (e.line, call.args[0].clone()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(closed, vec![(4, Arg::Int(3)), (12, Arg::Int(6))]);
        let script = parse(text, &["FreeBSD"]).unwrap();
        assert_eq!(script.events.len(), 3);
        assert!(parse("#ifdef A\n", &[]).is_err());
        assert!(parse("#endif\n", &[]).is_err());
        assert!(parse("#if A\n#endif\n", &[]).is_err());
        assert!(parse("+0 close(3) = 0\n--tolerance_usecs=1\n", &[]).is_err());
    }
}
