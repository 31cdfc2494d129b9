//! # wasi-http-hello — the floor of `wasmtime serve`
//!
//! The least a wasi:http component can do for a request: answer `hello`, with no headers.
//! `cargo xtask bench` serves it with the same `wasmtime serve` command as our component
//! (a fresh instance per request), so the component's figures stand beside the runtime's
//! own cost of instantiating, calling and answering.

use wasip2::exports::http::incoming_handler::Guest;
use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

struct Hello;

wasip2::http::proxy::export!(Hello);

impl Guest for Hello {
    fn handle(_request: IncomingRequest, out: ResponseOutparam) {
        let response = OutgoingResponse::new(Fields::new());
        let Ok(body) = response.body() else {
            return;
        };
        ResponseOutparam::set(out, Ok(response));
        if let Ok(stream) = body.write() {
            // A failed write means the client went away: nothing is left to answer.
            let _ = stream.blocking_write_and_flush(b"hello");
        }
        let _ = OutgoingBody::finish(body, None);
    }
}
