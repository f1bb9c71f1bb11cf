//! Object headers (versions 1 and 2) and their messages, following continuation blocks.

use super::io::{Cursor, Src, corrupt, unsupported};
use crate::FormatError;
use std::collections::HashSet;

/// Message types this scanner reads.
pub(super) mod kind {
    pub const DATASPACE: u16 = 0x01;
    pub const LINK_INFO: u16 = 0x02;
    pub const DATATYPE: u16 = 0x03;
    pub const LINK: u16 = 0x06;
    pub const LAYOUT: u16 = 0x08;
    pub const FILTERS: u16 = 0x0B;
    pub const ATTRIBUTE: u16 = 0x0C;
    pub const CONTINUATION: u16 = 0x10;
    pub const SYMBOL_TABLE: u16 = 0x11;
    pub const ATTRIBUTE_INFO: u16 = 0x15;
}

/// Message flag: the message is stored elsewhere and this is a reference to it.
pub(super) const FLAG_SHARED: u8 = 0x02;

/// One header message: its type, flags and body.
pub(super) struct Message {
    pub kind: u16,
    pub flags: u8,
    pub body: Cursor,
}

/// Reads all messages of the object header at `addr`.
pub(super) fn read(src: &Src, addr: u64) -> Result<Vec<Message>, FormatError> {
    let mut head = src.cursor_upto(addr, 64)?;
    let mut msgs = Vec::new();
    let mut blocks = Vec::new();
    let v2 = head.rest().starts_with(b"OHDR");
    if v2 {
        head.skip(4)?;
        let version = head.u8()?;
        if version != 2 {
            return Err(head.corrupt(format!("object header version {version}")));
        }
        let flags = head.u8()?;
        if flags & 0x20 != 0 {
            head.skip(16)?; // times
        }
        if flags & 0x10 != 0 {
            head.skip(4)?; // attribute phase change
        }
        let size = head.uint(1 << (flags & 3))?;
        let start = head.pos() as u64;
        let mut body = src.cursor(addr.saturating_add(start), size)?;
        parse_v2(&mut body, flags & 0x04 != 0, &mut msgs, &mut blocks)?;
        follow(src, &mut msgs, blocks, |src, a, l, msgs, blocks| {
            let mut c = src.cursor(a, l)?;
            c.signature(b"OCHK")?;
            let n = c.remaining().saturating_sub(4);
            let mut body = c.sub(n)?;
            parse_v2(&mut body, flags & 0x04 != 0, msgs, blocks)
        })?;
    } else {
        let version = head.u8()?;
        if version != 1 {
            return Err(head.corrupt(format!("object header version {version}")));
        }
        head.skip(1 + 2 + 4)?; // reserved, message count, reference count
        let size = u64::from(head.u32()?);
        let mut body = src.cursor(addr.saturating_add(16), size)?;
        parse_v1(&mut body, &mut msgs, &mut blocks)?;
        follow(src, &mut msgs, blocks, |src, a, l, msgs, blocks| {
            parse_v1(&mut src.cursor(a, l)?, msgs, blocks)
        })?;
    }
    Ok(msgs)
}

type Block = (u64, u64);

fn follow(
    src: &Src,
    msgs: &mut Vec<Message>,
    mut blocks: Vec<Block>,
    parse: impl Fn(&Src, u64, u64, &mut Vec<Message>, &mut Vec<Block>) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    // Each block once, and no more bytes than the file has, against loops in corrupt files.
    let mut seen = HashSet::new();
    let mut total = 0u64;
    while let Some((a, l)) = blocks.pop() {
        total = total.saturating_add(l);
        if !seen.insert(a) || total > src.size() {
            return Err(corrupt(a, "object header continuation blocks loop"));
        }
        parse(src, a, l, msgs, &mut blocks)?;
    }
    Ok(())
}

fn push(msg: Message, msgs: &mut Vec<Message>, blocks: &mut Vec<Block>) -> Result<(), FormatError> {
    if msg.kind == kind::CONTINUATION {
        let mut b = msg.body;
        let a = b.req_addr("continuation block")?;
        let l = b.length()?;
        blocks.push((a, l));
    } else if msg.kind != 0 {
        msgs.push(msg);
    }
    Ok(())
}

fn parse_v1(c: &mut Cursor, msgs: &mut Vec<Message>, blocks: &mut Vec<Block>) -> Result<(), FormatError> {
    while c.remaining() >= 8 {
        let kind = c.u16()?;
        let size = usize::from(c.u16()?);
        let flags = c.u8()?;
        c.skip(3)?;
        let body = c.sub(size)?;
        push(Message { kind, flags, body }, msgs, blocks)?;
    }
    Ok(())
}

fn parse_v2(
    c: &mut Cursor,
    creation_order: bool,
    msgs: &mut Vec<Message>,
    blocks: &mut Vec<Block>,
) -> Result<(), FormatError> {
    let head = if creation_order { 6 } else { 4 };
    // What is left after the last message and shorter than a message header is a gap.
    while c.remaining() >= head {
        let kind = u16::from(c.u8()?);
        let size = usize::from(c.u16()?);
        let flags = c.u8()?;
        if creation_order {
            c.skip(2)?;
        }
        let body = c.sub(size)?;
        push(Message { kind, flags, body }, msgs, blocks)?;
    }
    Ok(())
}

/// The body of the only message of this kind, if any.
pub(super) fn find(msgs: &[Message], kind: u16) -> Option<&Message> {
    msgs.iter().find(|m| m.kind == kind)
}

/// Errors for a shared (committed) message, which this scanner does not follow.
pub(super) fn not_shared(m: &Message, what: &str) -> Result<(), FormatError> {
    if m.flags & FLAG_SHARED != 0 {
        return Err(unsupported(format!(
            "shared {what} message at byte {}",
            m.body.here()
        )));
    }
    Ok(())
}
