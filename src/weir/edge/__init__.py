"""weir on the device: signed bundles, their keys, the minimal ONNX runtime and an encrypted local log.

Importing this package needs only numpy, onnxruntime and cryptography; it never imports the rest of weir
(no pandas, scikit-learn, SQLAlchemy or the store). The export side (ONNX conversion, quantisation,
equivalence checks) lives in other modules of this package and is imported explicitly.

>>> import weir.edge
>>> sorted(name for name in weir.edge.__all__ if name[0].islower())[:3]
['create_keys', 'fingerprint', 'generate_log_key']
"""

from __future__ import annotations

from weir.edge.bundle import (
    BundleError,
    BundleSignatureError,
    FileEntry,
    InputSpec,
    Manifest,
    OutputSpec,
    read_verified_model,
    sign_bundle,
    verify_bundle,
    write_bundle,
)
from weir.edge.encrypted_log import (
    EncryptedLog,
    EncryptedLogError,
    LogKeyError,
    WrongLogKeyError,
    generate_log_key,
    load_log_key,
    log_key_from_env,
    read_encrypted_log,
)
from weir.edge.keys import KeyFileError, create_keys, fingerprint, load_private_key, load_public_key
from weir.edge.runtime import EdgeModel, EdgePrediction, InputMismatchError

__all__ = [
    "BundleError",
    "BundleSignatureError",
    "EdgeModel",
    "EdgePrediction",
    "EncryptedLog",
    "EncryptedLogError",
    "FileEntry",
    "InputMismatchError",
    "InputSpec",
    "KeyFileError",
    "LogKeyError",
    "Manifest",
    "OutputSpec",
    "WrongLogKeyError",
    "create_keys",
    "fingerprint",
    "generate_log_key",
    "load_log_key",
    "load_private_key",
    "load_public_key",
    "log_key_from_env",
    "read_encrypted_log",
    "read_verified_model",
    "sign_bundle",
    "verify_bundle",
    "write_bundle",
]
