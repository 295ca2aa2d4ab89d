//! One Redis connection driven by the lanes themselves: no background task, no channel.
//!
//! A lane writes its batch of commands straight onto the stream and takes a place in the
//! connection's queue; replies come back in the order the commands went out, so the lane
//! whose place is first reads the replies it is owed from the connection's read buffer and
//! then wakes the next. In the closed model a connection has one lane and never waits; in
//! the open model several lanes pipeline on one connection this way.
//!
//! A lane that gives up (its timeout, or the run's end) leaves its place marked abandoned,
//! and whoever reads next skips the replies it was owed, so the stream stays in step. A
//! write cut short, a closed stream or bytes that are not RESP break the connection: every
//! lane on it fails with that kind, and the link connects again.
//!
//! Single-threaded by design (the lanes of a client thread share one current-thread
//! runtime): plain cells, and no borrow is ever held across an await, so a lane dropped
//! at any await leaves the connection consistent.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::client::TlsStream;

use super::resp::{self, Malformed, Reply};
use crate::measure::ErrorKind;

/// The bytes a connection runs over.
pub(super) enum Stream {
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    Unix(UnixStream),
}

impl Stream {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(&mut **s).poll_read(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(&mut **s).poll_write(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(&mut **s).poll_flush(cx),
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }
}

/// Replies received and not yet read: `data[start..end]`.
struct Input {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

/// What a read buffer starts with: a pipeline of 16 small replies fits many times over.
const INPUT_START: usize = 16 * 1024;

impl Input {
    /// Room after `end` for the next read, moving unread bytes to the front or growing.
    fn room(&mut self) -> &mut [u8] {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        }
        if self.end == self.data.len() {
            if self.start > 0 {
                self.data.copy_within(self.start..self.end, 0);
                (self.start, self.end) = (0, self.end - self.start);
            } else {
                self.data.resize(self.data.len() * 2, 0);
            }
        }
        &mut self.data[self.end..]
    }
}

/// A lane's place in the queue: the replies it is still owed.
struct Place {
    ticket: u64,
    left: u64,
    abandoned: bool,
    waker: Option<Waker>,
}

pub(super) struct Conn {
    stream: RefCell<Stream>,
    input: RefCell<Input>,
    queue: RefCell<VecDeque<Place>>,
    next_ticket: Cell<u64>,
    /// A lane is writing: others wait, so that batches go out whole and in ticket order.
    writing: Cell<bool>,
    writers: RefCell<Vec<Waker>>,
    broken: Cell<Option<ErrorKind>>,
}

/// What the read side found.
enum Drained {
    Done,
    NeedMore,
}

impl Conn {
    pub fn new(stream: Stream) -> Conn {
        Conn {
            stream: RefCell::new(stream),
            input: RefCell::new(Input {
                data: vec![0; INPUT_START],
                start: 0,
                end: 0,
            }),
            queue: RefCell::new(VecDeque::new()),
            next_ticket: Cell::new(0),
            writing: Cell::new(false),
            writers: RefCell::new(Vec::new()),
            broken: Cell::new(None),
        }
    }

    /// Why the connection can no longer be used, if it cannot.
    pub fn broken(&self) -> Option<ErrorKind> {
        self.broken.get()
    }

    /// Sends `commands` (`count` packed commands) and classifies their replies into
    /// `replies`, in order. On an error no reply of the batch is to be trusted.
    pub async fn exchange(
        &self,
        commands: &[u8],
        count: u64,
        replies: &mut Vec<Reply>,
    ) -> Result<(), ErrorKind> {
        replies.clear();
        let mut turn = Turn {
            conn: self,
            ticket: None,
            writing: false,
        };
        poll_fn(|cx| self.poll_writer(cx)).await?;
        turn.writing = true;
        turn.ticket = Some(self.enqueue(count));
        let mut done = 0;
        let written = poll_fn(|cx| self.poll_write_all(cx, commands, &mut done)).await;
        turn.writing = false;
        self.release_writer();
        if written.is_err() {
            return Err(self.break_with(ErrorKind::Connect));
        }
        let ticket = turn.ticket.expect("enqueued above");
        poll_fn(|cx| self.poll_replies(cx, ticket, replies)).await?;
        turn.ticket = None;
        if replies.len() as u64 != count {
            // Never seen: the queue lost this lane's place. The stream is out of step.
            return Err(self.break_with(ErrorKind::Protocol));
        }
        Ok(())
    }

    fn poll_writer(&self, cx: &mut Context<'_>) -> Poll<Result<(), ErrorKind>> {
        if let Some(kind) = self.broken.get() {
            return Poll::Ready(Err(kind));
        }
        if self.writing.replace(true) {
            self.writers.borrow_mut().push(cx.waker().clone());
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }

    fn release_writer(&self) {
        self.writing.set(false);
        let waiting = std::mem::take(&mut *self.writers.borrow_mut());
        waiting.into_iter().for_each(Waker::wake);
    }

    fn enqueue(&self, count: u64) -> u64 {
        let ticket = self.next_ticket.get();
        self.next_ticket.set(ticket + 1);
        self.queue.borrow_mut().push_back(Place {
            ticket,
            left: count,
            abandoned: false,
            waker: None,
        });
        ticket
    }

    /// Writes `bytes[*done..]`, keeping count in `done` across polls.
    fn poll_write_all(
        &self,
        cx: &mut Context<'_>,
        bytes: &[u8],
        done: &mut usize,
    ) -> Poll<io::Result<()>> {
        let mut stream = self.stream.borrow_mut();
        while *done < bytes.len() {
            match stream.poll_write(cx, &bytes[*done..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *done += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        stream.poll_flush(cx)
    }

    fn poll_replies(
        &self,
        cx: &mut Context<'_>,
        ticket: u64,
        replies: &mut Vec<Reply>,
    ) -> Poll<Result<(), ErrorKind>> {
        loop {
            if let Some(kind) = self.broken.get() {
                return Poll::Ready(Err(kind));
            }
            if !self.my_turn(ticket, cx) {
                return Poll::Pending;
            }
            match self.drain(ticket, replies) {
                Ok(Drained::Done) => {
                    self.wake_next();
                    return Poll::Ready(Ok(()));
                }
                Ok(Drained::NeedMore) => {}
                Err(Malformed) => return Poll::Ready(Err(self.break_with(ErrorKind::Protocol))),
            }
            match self.poll_fill(cx) {
                Poll::Ready(Ok(())) => continue,
                Poll::Ready(Err(_)) => {
                    return Poll::Ready(Err(self.break_with(ErrorKind::Connect)));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Whether every place before `ticket`'s is abandoned, so its replies are next on the
    /// stream; if not, leaves the waker for whoever reads before it.
    fn my_turn(&self, ticket: u64, cx: &mut Context<'_>) -> bool {
        let mut queue = self.queue.borrow_mut();
        let first = queue.front().map_or(ticket, |p| p.ticket);
        let index = (ticket - first) as usize;
        if queue.iter().take(index).all(|p| p.abandoned) {
            return true;
        }
        let Some(place) = queue.get_mut(index) else {
            return true;
        };
        match &place.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => place.waker = Some(cx.waker().clone()),
        }
        false
    }

    /// Reads whole replies from the buffer: first those owed to abandoned places ahead of
    /// `ticket`, which are skipped, then `ticket`'s own.
    fn drain(&self, ticket: u64, replies: &mut Vec<Reply>) -> Result<Drained, Malformed> {
        let mut input = self.input.borrow_mut();
        let mut queue = self.queue.borrow_mut();
        while let Some(place) = queue.front_mut() {
            if place.left > 0 {
                let Some((reply, len)) = resp::parse(&input.data[input.start..input.end])? else {
                    return Ok(Drained::NeedMore);
                };
                input.start += len;
                place.left -= 1;
                if place.ticket == ticket {
                    replies.push(reply);
                }
            }
            if place.left == 0 {
                let mine = place.ticket == ticket;
                queue.pop_front();
                if mine {
                    return Ok(Drained::Done);
                }
            }
        }
        // Unreachable while `ticket` is queued; reads as done rather than waiting forever.
        Ok(Drained::Done)
    }

    fn poll_fill(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut input = self.input.borrow_mut();
        let mut stream = self.stream.borrow_mut();
        let mut buf = ReadBuf::new(input.room());
        match stream.poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => {
                let n = buf.filled().len();
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
                }
                input.end += n;
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }

    /// Wakes the first place still waiting for its replies, now that they may be next.
    fn wake_next(&self) {
        let waker = {
            let mut queue = self.queue.borrow_mut();
            queue
                .iter_mut()
                .find(|p| !p.abandoned)
                .and_then(|p| p.waker.take())
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn break_with(&self, kind: ErrorKind) -> ErrorKind {
        if self.broken.get().is_none() {
            self.broken.set(Some(kind));
        }
        let waiting: Vec<Waker> = {
            let mut queue = self.queue.borrow_mut();
            queue.drain(..).filter_map(|p| p.waker).collect()
        };
        waiting.into_iter().for_each(Waker::wake);
        let writers = std::mem::take(&mut *self.writers.borrow_mut());
        writers.into_iter().for_each(Waker::wake);
        self.broken.get().unwrap_or(kind)
    }

    fn abandon(&self, ticket: u64) {
        {
            let mut queue = self.queue.borrow_mut();
            let Some(first) = queue.front().map(|p| p.ticket) else {
                return;
            };
            let Some(place) = ticket
                .checked_sub(first)
                .and_then(|i| queue.get_mut(i as usize))
            else {
                return;
            };
            place.abandoned = true;
            place.waker = None;
        }
        self.wake_next();
    }
}

/// A lane's hold on the connection while it exchanges a batch; when the lane is dropped
/// half-way (a timeout, the run's end), this puts the connection right for the others.
struct Turn<'a> {
    conn: &'a Conn,
    ticket: Option<u64>,
    writing: bool,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        if self.writing {
            // Part of a batch may be on the wire: nothing after it can be trusted.
            self.conn.break_with(ErrorKind::Connect);
            self.conn.release_writer();
        } else if let Some(ticket) = self.ticket {
            self.conn.abandon(ticket);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;
    use std::time::Duration;

    use tokio::net::TcpListener;

    use super::*;

    /// A current-thread runtime and a loopback pair: the connection's stream and the
    /// server's end as a std socket, written by the test as it likes.
    fn pair() -> (tokio::runtime::Runtime, Conn, std::net::TcpStream) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (conn, server) = runtime.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let client = TcpStream::connect(listener.local_addr().unwrap());
            let (client, accepted) = tokio::join!(client, listener.accept());
            let server = accepted.unwrap().0.into_std().unwrap();
            server.set_nonblocking(false).unwrap();
            let client = client.unwrap();
            client.set_nodelay(true).unwrap();
            (Conn::new(Stream::Tcp(client)), server)
        });
        (runtime, conn, server)
    }

    #[test]
    fn replies_trickling_in_a_byte_at_a_time_are_read_whole() {
        let (runtime, conn, server) = pair();
        let replies = b"$3\r\nabc\r\n$-1\r\n-ERR no\r\n:7\r\n*2\r\n+a\r\n$1\r\nb\r\n";
        let writer = std::thread::spawn(move || {
            use std::io::Write as _;
            let mut server = server;
            server.set_nodelay(true).unwrap();
            for byte in replies {
                server.write_all(&[*byte]).unwrap();
                std::thread::sleep(Duration::from_millis(1));
            }
            server
        });
        let mut got = Vec::new();
        let result = runtime.block_on(conn.exchange(b"*1\r\n$4\r\nPING\r\n", 5, &mut got));
        assert_eq!(result, Ok(()));
        let want = [
            Reply::Bulk(3),
            Reply::Nil,
            Reply::Error,
            Reply::Other,
            Reply::Other,
        ];
        assert_eq!(got, want);
        drop(writer.join().unwrap());
    }

    #[test]
    fn lanes_sharing_a_connection_get_their_own_replies_even_after_one_gives_up() {
        let (runtime, conn, server) = pair();
        let conn = Rc::new(conn);
        let local = tokio::task::LocalSet::new();
        let replies = local.block_on(&runtime, async {
            let (a, b, c) = (conn.clone(), conn.clone(), conn.clone());
            let first = tokio::task::spawn_local(async move {
                let mut r = Vec::new();
                let limit = Duration::from_millis(50);
                tokio::time::timeout(limit, a.exchange(b"x", 2, &mut r))
                    .await
                    .is_err()
            });
            tokio::task::yield_now().await;
            let second = tokio::task::spawn_local(async move {
                let mut r = Vec::new();
                b.exchange(b"y", 1, &mut r).await.map(|()| r)
            });
            tokio::time::sleep(Duration::from_millis(100)).await;
            // The first lane has given up; its two replies arrive now, then the second's.
            std::thread::spawn(move || {
                use std::io::Write as _;
                let mut server = server;
                server
                    .write_all(b"$1\r\na\r\n$1\r\nb\r\n$2\r\ncd\r\n")
                    .unwrap();
                std::thread::sleep(Duration::from_millis(200));
                server.write_all(b"+OK\r\n").unwrap();
                std::thread::sleep(Duration::from_millis(500));
            });
            assert!(first.await.unwrap(), "the first lane timed out");
            let second = second.await.unwrap();
            let mut third = Vec::new();
            let later = c.exchange(b"z", 1, &mut third).await.map(|()| third);
            (second, later)
        });
        assert_eq!(replies.0, Ok(vec![Reply::Bulk(2)]));
        assert_eq!(replies.1, Ok(vec![Reply::Other]));
    }

    #[test]
    fn garbage_breaks_the_connection_as_a_protocol_error() {
        let (runtime, conn, server) = pair();
        {
            use std::io::Write as _;
            let mut server = &server;
            server.write_all(b"+OK\r\n@garbage\r\n").unwrap();
        }
        let mut got = Vec::new();
        let result = runtime.block_on(conn.exchange(b"x", 2, &mut got));
        assert_eq!(result, Err(ErrorKind::Protocol));
        assert_eq!(conn.broken(), Some(ErrorKind::Protocol));
        let again = runtime.block_on(conn.exchange(b"x", 1, &mut got));
        assert_eq!(again, Err(ErrorKind::Protocol));
    }

    #[test]
    fn a_closed_stream_is_a_connect_error() {
        let (runtime, conn, server) = pair();
        drop(server);
        let mut got = Vec::new();
        let result = runtime.block_on(conn.exchange(b"x", 1, &mut got));
        assert_eq!(result, Err(ErrorKind::Connect));
    }
}
