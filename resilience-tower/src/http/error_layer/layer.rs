use std::sync::Arc;

use tower_layer::Layer;

use super::HttpErrorService;
use crate::http::ProblemConfig;

/// Makes a fallible HTTP stack infallible: errors become problem+json responses.
///
/// See [`HttpErrorService`] for the details.
#[derive(Clone, Debug, Default)]
pub struct HttpErrorLayer {
    config: Arc<ProblemConfig>,
}

impl HttpErrorLayer {
    /// A layer with the default [`ProblemConfig`].
    pub fn new() -> Self {
        Self::default()
    }

    /// A layer answering errors as `config` says.
    pub fn with_config(config: ProblemConfig) -> Self {
        Self {
            config: Arc::new(config),
        }
    }
}

impl<S> Layer<S> for HttpErrorLayer {
    type Service = HttpErrorService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpErrorService::new(inner, Arc::clone(&self.config))
    }
}
