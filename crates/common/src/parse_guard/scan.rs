//! The nesting-depth scan of `parse_guard`: a byte-level state machine that reads text the
//! way hcl-edit's lexer does (expression text, quoted strings, heredocs, template directives,
//! comments) and keeps the number of parser recursion levels open at each point.

use super::ParseLimitError;

/// Where expression text is: the top-level body, inside `{` (objects and block bodies, where
/// a newline may end an expression), or inside `[`, `(`, `${` or `%{` (where it never does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CodeKind {
    Root,
    Brace,
    Open,
}

#[derive(Debug, Clone)]
struct Code {
    kind: CodeKind,
    /// The levels this frame counts (see [`INDEX_LEVELS`]).
    levels: usize,
    /// Operators of the expression being read; each is one level of recursion.
    ops: usize,
    /// A bracketed term closed in this expression: hcl-edit then lets the expression go on
    /// past newlines (arrays and function calls set `allow_newlines` on the outer state).
    multiline: bool,
    /// A newline was read while `multiline`; the next token tells whether the expression
    /// goes on (an operator, `?`, `:`, `.` or `[`) or has ended.
    pending_newline: bool,
    /// A `for` object (`{for k, v in m : k => v if c}`): its condition may span lines, so
    /// newlines never end an expression in this frame.
    for_object: bool,
    /// A `%{` directive whose keyword (`if`, `for`, `endif`, ...) is not read yet.
    directive: bool,
}

impl Code {
    fn new(kind: CodeKind) -> Code {
        Code {
            kind,
            levels: 1,
            ops: 0,
            multiline: false,
            pending_newline: false,
            for_object: false,
            directive: false,
        }
    }
}

/// The levels a `[` right after a term counts (a traversal index, `a.b[i]`). hcl-edit parses
/// an index that fails twice (once in the traversal, again when its expression loop retries
/// the traversal), so nested failing indexes take exponential time: 20 levels of `b.c[` cost
/// seconds in under 100 bytes. At this weight 32 levels allow 5 nested indexes, which no real
/// policy or config uses at all.
pub(super) const INDEX_LEVELS: usize = 6;

#[derive(Debug, Clone)]
enum Frame {
    Code(Code),
    /// A quoted string. `directives` counts the open `%{ if }` / `%{ for }`; inside one, the
    /// parser reads a plain template where `"` and `\` are literal text.
    Quoted {
        directives: usize,
    },
    /// A heredoc, ended by a line of `[ \t]*` and its delimiter (`delim` is a byte range).
    Heredoc {
        delim: (usize, usize),
        directives: usize,
    },
}

/// The state before an empty-looking heredoc (`<<EOF` followed at once by an `EOF` line). The
/// parser first reads it as a heredoc ended by a *later* delimiter line and falls back to an
/// empty heredoc only when there is none; the scan does the same, so the fallback restarts
/// here when the text ends inside the heredoc.
#[derive(Debug, Clone)]
struct Checkpoint {
    /// Just past the delimiter on the heredoc's first line.
    pos: usize,
    line: usize,
    frames: Vec<Frame>,
    depth: usize,
}

pub(super) struct Scanner<'t> {
    text: &'t [u8],
    pos: usize,
    line: usize,
    frames: Vec<Frame>,
    /// The levels open right now: one per `Code` frame but the root, plus every frame's
    /// `ops` and `directives`, plus `penalty`.
    depth: usize,
    limit: usize,
    checkpoints: Vec<Checkpoint>,
    /// One level per heredoc fallback, so that the rescans stay bounded by the limit.
    penalty: usize,
}

impl<'t> Scanner<'t> {
    pub(super) fn new(text: &'t [u8], limit: usize) -> Self {
        Scanner {
            text,
            pos: 0,
            line: 1,
            frames: vec![Frame::Code(Code::new(CodeKind::Root))],
            depth: 0,
            limit,
            checkpoints: Vec::new(),
            penalty: 0,
        }
    }

    pub(super) fn run(mut self) -> Result<(), ParseLimitError> {
        loop {
            if self.pos >= self.text.len() {
                let Some(cp) = self.checkpoints.pop() else {
                    return Ok(());
                };
                self.penalty += 1;
                self.pos = cp.pos;
                self.line = cp.line;
                self.frames = cp.frames;
                self.depth = cp.depth;
                self.deepen(self.penalty)?;
                continue;
            }
            // The root frame is never popped, so there is always a top frame.
            let top = self.frames.len() - 1;
            match &self.frames[top] {
                Frame::Code(_) => self.code()?,
                Frame::Quoted { directives: 0 } => self.quoted()?,
                Frame::Heredoc {
                    delim,
                    directives: 0,
                } => self.heredoc(*delim)?,
                Frame::Quoted { .. } | Frame::Heredoc { .. } => self.plain_template()?,
            }
        }
    }

    fn byte(&self, at: usize) -> Option<u8> {
        self.text.get(at).copied()
    }

    fn starts_with(&self, at: usize, s: &[u8]) -> bool {
        self.text.get(at..).is_some_and(|rest| rest.starts_with(s))
    }

    fn deepen(&mut self, levels: usize) -> Result<(), ParseLimitError> {
        self.depth += levels;
        if self.depth > self.limit {
            return Err(ParseLimitError::TooDeep {
                limit: self.limit,
                line: self.line,
            });
        }
        Ok(())
    }

    fn top_code(&mut self) -> &mut Code {
        match self.frames.last_mut() {
            Some(Frame::Code(code)) => code,
            // Only called from `code`, which runs when the top frame is a `Code`.
            _ => unreachable!("top frame is not code"),
        }
    }

    /// The expression being read in the top frame has ended.
    fn end_expression(&mut self) {
        let code = self.top_code();
        let ops = std::mem::take(&mut code.ops);
        code.multiline = false;
        code.pending_newline = false;
        self.depth -= ops;
    }

    /// Opens a bracket or template marker `len` bytes long that counts `levels`.
    fn push_code(
        &mut self,
        kind: CodeKind,
        len: usize,
        levels: usize,
    ) -> Result<(), ParseLimitError> {
        self.frames.push(Frame::Code(Code {
            levels,
            ..Code::new(kind)
        }));
        self.pos += len;
        self.deepen(levels)
    }

    /// Whether the last token before `self.pos` ends a term (an identifier, a number, a
    /// string or a closing bracket), so that a `[` here indexes it. Line breaks are skipped:
    /// counting a tuple as an index only ever over-counts.
    fn after_term(&self) -> bool {
        let before = self.text[..self.pos]
            .iter()
            .rev()
            .find(|b| !b.is_ascii_whitespace());
        before.is_some_and(|&b| b.is_ascii_alphanumeric() || b >= 0x80 || b"_-\"])}".contains(&b))
    }

    fn code(&mut self) -> Result<(), ParseLimitError> {
        let b = self.text[self.pos];
        match b {
            b' ' | b'\t' | b'\r' => self.pos += 1,
            b'\n' => {
                self.pos += 1;
                self.line += 1;
                let code = self.top_code();
                if code.kind != CodeKind::Open && !code.for_object {
                    if code.multiline {
                        code.pending_newline = true;
                    } else {
                        self.end_expression();
                    }
                }
            }
            b'#' => self.skip_line(),
            b'/' if self.byte(self.pos + 1) == Some(b'/') => self.skip_line(),
            b'/' if self.byte(self.pos + 1) == Some(b'*') => self.skip_block_comment(),
            _ => {
                if self.top_code().pending_newline {
                    self.top_code().pending_newline = false;
                    if !b"!<>+-*/%&|=?:.[".contains(&b) {
                        self.end_expression();
                    }
                }
                self.code_token(b)?;
            }
        }
        Ok(())
    }

    fn code_token(&mut self, b: u8) -> Result<(), ParseLimitError> {
        let is_word = b.is_ascii_alphabetic() || b == b'_' || b >= 0x80;
        if is_word {
            let start = self.pos;
            self.pos = self.ident_end(self.pos);
            return self.on_word(start);
        }
        // A strip marker (`%{~ if`) may come before a directive's keyword; any other token
        // settles it: the directive is none of ours.
        if b != b'~' {
            self.top_code().directive = false;
        }
        match b {
            b'"' => {
                self.frames.push(Frame::Quoted { directives: 0 });
                self.pos += 1;
            }
            b'<' if self.heredoc_start()? => {}
            b'[' if self.after_term() => self.push_code(CodeKind::Open, 1, INDEX_LEVELS)?,
            b'[' | b'(' => self.push_code(CodeKind::Open, 1, 1)?,
            b'{' => self.push_code(CodeKind::Brace, 1, 1)?,
            b']' | b')' | b'}' => self.close_code(),
            b',' => {
                self.end_expression();
                self.pos += 1;
            }
            b'0'..=b'9' => self.skip_number(),
            b'=' | b'!' | b'<' | b'>' | b'&' | b'|' => {
                let two = self.byte(self.pos + 1);
                let pair = matches!(
                    (b, two),
                    (b'=', Some(b'=' | b'>'))
                        | (b'!' | b'<' | b'>', Some(b'='))
                        | (b'&', Some(b'&'))
                        | (b'|', Some(b'|'))
                );
                self.pos += if pair { 2 } else { 1 };
                // A lone `=` assigns; everything else here is an operator.
                if pair || b != b'=' {
                    self.add_op()?;
                }
            }
            b'+' | b'-' | b'*' | b'/' | b'%' | b'?' => {
                self.pos += 1;
                self.add_op()?;
            }
            _ => self.pos += 1,
        }
        Ok(())
    }

    fn add_op(&mut self) -> Result<(), ParseLimitError> {
        self.top_code().ops += 1;
        self.deepen(1)
    }

    /// An identifier or keyword at `start..self.pos`.
    fn on_word(&mut self, start: usize) -> Result<(), ParseLimitError> {
        let word = &self.text[start..self.pos];
        let code = self.top_code();
        if code.kind == CodeKind::Brace && word == b"for" {
            code.for_object = true;
        }
        if !std::mem::take(&mut code.directive) {
            return Ok(());
        }
        // The keyword of a `%{` directive: `if` and `for` open a nested template body in the
        // enclosing string or heredoc, `endif` and `endfor` close it.
        let below = self.frames.len() - 2;
        if let Frame::Quoted { directives } | Frame::Heredoc { directives, .. } =
            &mut self.frames[below]
        {
            match word {
                b"if" | b"for" => {
                    *directives += 1;
                    return self.deepen(1);
                }
                b"endif" | b"endfor" if *directives > 0 => {
                    *directives -= 1;
                    self.depth -= 1;
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn ident_end(&self, mut at: usize) -> usize {
        while let Some(c) = self.byte(at) {
            if c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c >= 0x80 {
                at += 1;
            } else {
                break;
            }
        }
        at
    }

    /// Digits, an optional fraction and an optional exponent with its sign.
    fn skip_number(&mut self) {
        while self
            .byte(self.pos)
            .is_some_and(|c| c.is_ascii_digit() || c == b'.')
        {
            self.pos += 1;
        }
        if matches!(self.byte(self.pos), Some(b'e' | b'E')) {
            let mut at = self.pos + 1;
            if matches!(self.byte(at), Some(b'+' | b'-')) {
                at += 1;
            }
            if self.byte(at).is_some_and(|c| c.is_ascii_digit()) {
                self.pos = at;
                while self.byte(self.pos).is_some_and(|c| c.is_ascii_digit()) {
                    self.pos += 1;
                }
            }
        }
    }

    /// Closes the innermost bracket; a closer with nothing open is left to the parser.
    fn close_code(&mut self) {
        self.pos += 1;
        if self.frames.len() < 2 {
            return;
        }
        let Some(Frame::Code(code)) = self.frames.pop() else {
            unreachable!("close_code runs on a code frame")
        };
        self.depth -= code.levels + code.ops;
        if let Some(Frame::Code(parent)) = self.frames.last_mut() {
            parent.multiline = true;
        }
    }

    /// `<<ID` or `<<-ID` and a line ending start a heredoc; otherwise `<` is an operator.
    fn heredoc_start(&mut self) -> Result<bool, ParseLimitError> {
        if !self.starts_with(self.pos, b"<<") {
            return Ok(false);
        }
        let mut at = self.pos + 2;
        if self.byte(at) == Some(b'-') {
            at += 1;
        }
        let starts_ident = self
            .byte(at)
            .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_' || c >= 0x80);
        if !starts_ident {
            return Ok(false);
        }
        let delim = (at, self.ident_end(at));
        at = delim.1;
        if self.byte(at) == Some(b'\r') {
            at += 1;
        }
        if self.byte(at) != Some(b'\n') {
            return Ok(false);
        }
        self.pos = at + 1;
        self.line += 1;
        if let Some(end) = self.delimiter_line(self.pos, delim) {
            self.checkpoints.push(Checkpoint {
                pos: end,
                line: self.line,
                frames: self.frames.clone(),
                depth: self.depth,
            });
        }
        self.frames.push(Frame::Heredoc {
            delim,
            directives: 0,
        });
        Ok(true)
    }

    /// If the line starting at `at` is `[ \t]*` and the delimiter, where the delimiter ends.
    fn delimiter_line(&self, mut at: usize, delim: (usize, usize)) -> Option<usize> {
        while matches!(self.byte(at), Some(b' ' | b'\t')) {
            at += 1;
        }
        let delim = &self.text[delim.0..delim.1];
        self.starts_with(at, delim).then_some(at + delim.len())
    }

    fn pop_template(&mut self) {
        self.frames.pop();
        let depth = self.frames.len();
        // A heredoc read to its end no longer needs its empty-heredoc fallback.
        while self
            .checkpoints
            .last()
            .is_some_and(|cp| cp.frames.len() >= depth)
        {
            self.checkpoints.pop();
        }
    }

    /// `${`, `%{`, or their escapes `$${`, `%%{`; true if one was read.
    fn template_marker(&mut self) -> Result<bool, ParseLimitError> {
        if self.starts_with(self.pos, b"$${") || self.starts_with(self.pos, b"%%{") {
            self.pos += 3;
            return Ok(true);
        }
        if self.starts_with(self.pos, b"${") {
            self.push_code(CodeKind::Open, 2, 1)?;
            return Ok(true);
        }
        if self.starts_with(self.pos, b"%{") {
            self.push_code(CodeKind::Open, 2, 1)?;
            self.top_code().directive = true;
            return Ok(true);
        }
        Ok(false)
    }

    fn quoted(&mut self) -> Result<(), ParseLimitError> {
        if self.template_marker()? {
            return Ok(());
        }
        match self.text[self.pos] {
            b'"' => {
                self.pos += 1;
                self.pop_template();
            }
            b'\\' => {
                if self.byte(self.pos + 1) == Some(b'\n') {
                    self.line += 1;
                }
                self.pos += 2;
            }
            b'\n' => {
                self.pos += 1;
                self.line += 1;
            }
            _ => self.pos += 1,
        }
        Ok(())
    }

    fn heredoc(&mut self, delim: (usize, usize)) -> Result<(), ParseLimitError> {
        if self.template_marker()? {
            return Ok(());
        }
        let line_ending = if self.starts_with(self.pos, b"\r\n") {
            2
        } else if self.byte(self.pos) == Some(b'\n') {
            1
        } else {
            self.pos += 1;
            return Ok(());
        };
        self.pos += line_ending;
        self.line += 1;
        if let Some(end) = self.delimiter_line(self.pos, delim) {
            self.pos = end;
            self.pop_template();
        }
        Ok(())
    }

    /// The body of a `%{ if }` or `%{ for }`: only template markers mean anything.
    fn plain_template(&mut self) -> Result<(), ParseLimitError> {
        if !self.template_marker()? {
            if self.text[self.pos] == b'\n' {
                self.line += 1;
            }
            self.pos += 1;
        }
        Ok(())
    }

    fn skip_line(&mut self) {
        while self.byte(self.pos).is_some_and(|c| c != b'\n') {
            self.pos += 1;
        }
    }

    fn skip_block_comment(&mut self) {
        self.pos += 2;
        while self.pos < self.text.len() && !self.starts_with(self.pos, b"*/") {
            if self.text[self.pos] == b'\n' {
                self.line += 1;
            }
            self.pos += 1;
        }
        self.pos = (self.pos + 2).min(self.text.len());
    }
}
