r"""Losses for language models at vocabulary scale.

A language model's last layer turns each token's hidden state :math:`h`
(width :math:`D`) into logits over a vocabulary of :math:`V` words,
:math:`z = W h + b`, and the loss is the cross-entropy of the next token.
With :math:`N` tokens the logits are an :math:`N \times V` matrix, the
largest tensor of the whole step when :math:`V` is in the tens of
thousands. :func:`linear_cross_entropy` computes the loss and its gradients
from :math:`h` and :math:`W` chunk by chunk, never holding that matrix;
:func:`z_loss` and :func:`softcap` keep the logits in range; :func:`perplexity`
reports the loss as a language modeller does; and ``normalizer`` (also on
:func:`lossbook.cross_entropy`) makes micro-batches and processes weigh every
token the same.
"""

# The losses live in private modules by topic; this package is their public home.
from ._function import CHUNK_ELEMENTS, default_chunk_size
from ._linear import linear_cross_entropy
from ._logits import perplexity, softcap, z_loss
from ._parallel import _data_parallel, _tiny_model_loss

__all__ = ["linear_cross_entropy", "z_loss", "softcap", "perplexity"]
