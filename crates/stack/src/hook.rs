//! The shape most of our own layers share: look at the request (and maybe mark it), let
//! the inner service answer, then finish the answer with what was seen. One generic
//! service carries the tower plumbing, so each layer is only its two steps.

use crate::{BoxFuture, MaybeSend};
use http::{Request, Response};
use std::convert::Infallible;
use std::task::{Context, Poll};
use tower_layer::Layer;
use tower_service::Service;

/// A layer's two steps around the inner service.
pub trait Hook: Clone {
    /// What `before` hands to `after`.
    type Seen: MaybeSend + 'static;
    fn before(&self, request: &mut Request<Vec<u8>>) -> Self::Seen;
    fn after(seen: Self::Seen, response: &mut Response<Vec<u8>>);
}

/// Runs a [`Hook`] around the services it wraps.
#[derive(Clone, Copy, Default)]
pub struct HookLayer<H>(pub H);

impl<S, H: Clone> Layer<S> for HookLayer<H> {
    type Service = Hooked<S, H>;
    fn layer(&self, inner: S) -> Hooked<S, H> {
        Hooked {
            inner,
            hook: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Hooked<S, H> {
    inner: S,
    hook: H,
}

impl<S, H> Service<Request<Vec<u8>>> for Hooked<S, H>
where
    S: Service<Request<Vec<u8>>, Response = Response<Vec<u8>>, Error = Infallible>,
    S::Future: MaybeSend + 'static,
    H: Hook,
{
    type Response = Response<Vec<u8>>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response<Vec<u8>>, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Vec<u8>>) -> Self::Future {
        let seen = self.hook.before(&mut request);
        let answer = self.inner.call(request);
        Box::pin(async move {
            let mut response = answer.await?;
            H::after(seen, &mut response);
            Ok(response)
        })
    }
}
