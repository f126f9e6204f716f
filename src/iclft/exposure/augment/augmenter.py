"""The augmenter: who writes the augmentations (config `augment.generator`): the studied model,
another local model, or an API server.

Its language model is created only when needed (`get`): a fully cached augmentation loads no
model and reaches no server. `model_id` keys the generation cache and never holds a secret.
"""

from __future__ import annotations

from iclft.config import GeneratorConfig, ModelConfig
from iclft.errors import UserError


class Augmenter:
    def __init__(self, cfg: GeneratorConfig, studied_model: ModelConfig, studied_lm):
        self.cfg = cfg
        self.studied_model = studied_model
        self._lm = studied_lm if cfg.kind == "self" else None
        if cfg.kind == "self":
            self.model_id = f"{studied_model.name}|{studied_model.dtype}"
        elif cfg.kind == "local":
            if not cfg.model:
                raise UserError("augment.generator.model: kind local needs a model (zoo name, folder or hub id)")
            self.model_id = f"{cfg.model}|{studied_model.dtype}"
        else:
            missing = [name for name in ("base_url", "api_model") if not getattr(cfg, name)]
            if missing:
                raise UserError(f"augment.generator.{missing[0]}: kind api needs base_url and api_model")
            self.model_id = f"api|{cfg.base_url.rstrip('/')}|{cfg.api_model}|{cfg.endpoint}"

    def get(self):
        if self._lm is None:
            if self.cfg.kind == "local":
                from iclft.models import load_model

                self._lm = load_model(self.studied_model.model_copy(update={"name": self.cfg.model}))
            else:
                from iclft.models.api import ApiModel

                self._lm = ApiModel(
                    self.cfg.base_url,
                    self.cfg.api_model,
                    self.cfg.endpoint,
                    self.cfg.api_key_env,
                    self.cfg.timeout_s,
                    max_retries=self.cfg.max_retries,
                    backoff_s=self.cfg.backoff_s,
                    concurrency=self.cfg.concurrency,
                )
        return self._lm
