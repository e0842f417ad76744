"""The text-generation postprocessor: prompt strings in, sampled strings out, in one graph.

`TextGenerator` steps the recurrent cells one token at a time inside one `tf.function`
(a `tf.while_loop`), so a sample of N tokens costs N cell steps, never a re-run over a
window, and many samples run as one batch. The same functions are what the exported
SavedModel serves, so `rnnkit generate` and the SavedModel give the same text for the
same seed.

With `xla=True` the sampling loop is compiled by XLA (`jit_compile`): one fused program
instead of some forty TensorFlow ops dispatched per token, several times faster for one
sample. XLA computes the same model with other roundings and draws from the same seed
differently, so its text differs from the plain loop's; `rnnkit generate --xla` and a
SavedModel exported with `--xla` use the same compiled loop and agree with each other.
Compiled programs are cached per batch size, prompt-width bucket and length bucket (powers
of two), so a new shape costs a compilation (about a second) once per process.
"""

from __future__ import annotations

import tensorflow as tf

from rnnkit.tasks.textgen.sampling import MIN_TEMPERATURE
from rnnkit.tasks.textgen.vocabulary import NEWLINE_MARK, PAD, UNK, WORD_PATTERN_RE2, TextVocabulary

BANNED = -1e9  # logit bias that keeps padding and [UNK] from ever being sampled
CLOSING = r"[.,!?;:%)\]}\n]"


def scale_logits(logits, temperature):
    """Divide by the temperature (clamped: the SavedModel takes any float)."""
    return logits / tf.maximum(temperature, MIN_TEMPERATURE)


def filter_logits(logits, temperature, top_k, top_p):
    """Scale by temperature, then keep the top-k tokens and the top-p nucleus."""
    logits = scale_logits(logits, temperature)
    vocabulary_size = tf.shape(logits)[-1]

    def keep_top_k():
        # A sort and a gather rather than tf.math.top_k, whose k XLA needs as a constant.
        k = tf.minimum(top_k, vocabulary_size)
        kth = tf.gather(tf.sort(logits, direction="DESCENDING", axis=-1), [k - 1], axis=-1)
        return tf.where(logits < kth, tf.cast(BANNED, logits.dtype), logits)

    logits = tf.cond(top_k > 0, keep_top_k, lambda: logits)

    def keep_nucleus():
        ordered = tf.sort(logits, direction="DESCENDING", axis=-1)
        before = tf.math.cumsum(tf.nn.softmax(ordered, axis=-1), axis=-1, exclusive=True)
        # The likeliest token is always kept, so the nucleus is never empty.
        threshold = tf.reduce_min(tf.where(before < top_p, ordered, ordered[:, :1]), axis=-1, keepdims=True)
        return tf.where(logits < threshold, tf.cast(BANNED, logits.dtype), logits)

    return tf.cond(top_p < 1.0, keep_nucleus, lambda: logits)


class TextGenerator(tf.Module):
    """Sampling functions over a trained language model and its vocabulary.

    Args:
        model: the Keras model `rnnkit train` wrote (Embedding -> RNN cells -> Dense).
        vocabulary: the run's fitted `TextVocabulary`.
        xla: compile the sampling loop with XLA. Defaults to `False`.
    """

    def __init__(self, model, vocabulary: TextVocabulary, xla: bool = False):
        super().__init__(name="text_generator")
        import keras

        self.xla = xla
        self.compiled_loop = tf.function(self._sampling_loop, jit_compile=True)
        self.model = model
        self.level = vocabulary.level
        self.embedding = model.get_layer("embedding")
        self.cells = [layer.cell for layer in model.layers if isinstance(layer, keras.layers.RNN)]
        self.head = model.get_layer("logits")
        self.lookup = keras.layers.StringLookup(
            vocabulary=vocabulary.tokens, mask_token=PAD, oov_token=UNK, name="token_lookup"
        )
        self.lookup.build(None)  # ExportArchive tracks built layers only
        self.id_to_token = tf.constant(vocabulary.id_to_token)
        self.start_id = tf.constant(vocabulary.id_to_token.index(vocabulary.start_token), tf.int32)
        bias = [0.0] * vocabulary.size
        bias[0] = bias[1] = BANNED
        self.logit_bias = tf.constant(bias, tf.float32)
        self.state_sizes = [size for cell in self.cells for size in _state_sizes(cell)]

        string = tf.TensorSpec([None], tf.string, name="prompt")
        scalars = [
            tf.TensorSpec([], tf.int32, name="length"),
            tf.TensorSpec([], tf.float32, name="temperature"),
            tf.TensorSpec([], tf.int32, name="seed"),
        ]
        self.generate = tf.function(self._generate, input_signature=[string, *scalars])
        self.sample = tf.function(
            self._sample,
            input_signature=[
                string,
                *scalars,
                tf.TensorSpec([], tf.int32, name="top_k"),
                tf.TensorSpec([], tf.float32, name="top_p"),
            ],
        )
        self.step = tf.function(
            self._serving_step,
            input_signature=[tf.TensorSpec([None], tf.int32, name="token_ids")]
            + [tf.TensorSpec([None, size], tf.float32, name=f"state_{i}") for i, size in enumerate(self.state_sizes)],
        )

    def endpoints(self) -> dict:
        """The SavedModel's signatures (DESIGN §7)."""
        return {"serving_default": self.step, "generate": self.generate, "sample": self.sample}

    def resources(self) -> list:
        return [self.lookup]

    # -- public graph functions -------------------------------------------------------

    def _generate(self, prompt, length, temperature, seed):
        return self._sample(prompt, length, temperature, seed, tf.constant(0), tf.constant(1.0))

    def _sample(self, prompt, length, temperature, seed, top_k, top_p):
        prompt = tf.strings.regex_replace(prompt, "\r\n", "\n")
        ids = self.tokenize(prompt)
        generated = self.sample_ids(ids, tf.maximum(length, 1), temperature, seed, top_k, top_p)
        return {"text": self.join(prompt, generated)}

    def _serving_step(self, token_ids, *states):
        logits, new_states = self.cell_step(token_ids, list(states))
        outputs = {"logits": logits}
        outputs.update({f"state_{i}": state for i, state in enumerate(new_states)})
        return outputs

    # -- pieces ---------------------------------------------------------------------------

    def tokenize(self, prompt):
        return prompt_token_ids(prompt, self.level, self.lookup, self.start_id)

    def cell_step(self, token_ids, states):
        return step_cells(self.embedding, self.cells, self.head, token_ids, states)

    def sample_ids(self, ids, length, temperature, seed, top_k, top_p):
        """Feed each row's prompt, then sample `length` ids per row; returns int32 [rows, length]."""
        lengths = tf.cast(ids.row_lengths(), tf.int32)
        longest = tf.cast(tf.reduce_max(lengths), tf.int32)
        steps = longest + length - 1
        if self.xla:
            # Dense inputs (XLA has no ragged kernels), in widths and lengths rounded up to powers
            # of two, so that a few compiled programs serve every request.
            prompt = ids.to_tensor(0)
            prompt = tf.pad(prompt, [[0, 0], [0, _bucket(longest, 8) - tf.shape(prompt)[1]]])
            samples = self.compiled_loop(prompt, lengths, steps, _bucket(steps, 64), temperature, seed, top_k,
                                         top_p)
        else:
            prompt = ids.to_tensor(0)
            samples = self._sampling_loop(prompt, lengths, steps, steps, temperature, seed, top_k, top_p)
        every = tf.transpose(samples[:steps])  # [rows, steps]
        positions = lengths[:, None] - 1 + tf.range(length)[None, :]
        return tf.gather(every, positions, batch_dims=1)

    def _sampling_loop(self, prompt, lengths, steps, capacity, temperature, seed, top_k, top_p):
        """`steps` cell steps over `prompt` (dense, `[rows, width]`, each row `lengths` long), each
        row reading its prompt, then its own samples; the ids sampled at every step, `[capacity, rows]`
        (rows past `steps` are zeros)."""
        rows = tf.shape(prompt)[0]
        longest = tf.reduce_max(lengths)
        states = [tf.zeros([rows, size], tf.float32) for size in self.state_sizes]

        def loop(adjust):
            def body(t, previous, states, samples):
                # Row b reads its prompt up to its own length, then its own samples.
                from_prompt = prompt[:, tf.minimum(t, longest - 1)]
                token = tf.where(t < lengths, from_prompt, previous)
                logits, states = self.cell_step(token, states)
                sampled = tf.random.stateless_categorical(
                    adjust(logits + self.logit_bias), 1, seed=tf.stack([seed, t]), dtype=tf.int32
                )[:, 0]
                return t + 1, sampled, states, samples.write(t, sampled)

            start = (tf.constant(0), tf.zeros([rows], tf.int32), states,
                     tf.TensorArray(tf.int32, size=capacity, element_shape=[None]))
            # Under XLA the array is a buffer of `capacity` rows, those not written zeros.
            return tf.while_loop(lambda t, *_: t < steps, body, start)[3].stack()

        # Top-k and top-p cost two conditionals in every step (about 7% of one sample's speed), so
        # the loop holds them only when they are asked for; without them both loops give the same ids.
        unfiltered = tf.logical_and(top_k <= 0, top_p >= 1.0)
        return tf.cond(unfiltered, lambda: loop(lambda logits: scale_logits(logits, temperature)),
                       lambda: loop(lambda logits: filter_logits(logits, temperature, top_k, top_p)))

    def join(self, prompt, generated):
        """The prompt followed by the generated tokens as text."""
        tokens = tf.gather(self.id_to_token, generated)
        if self.level == "char":
            return prompt + tf.strings.reduce_join(tokens, axis=-1)
        text = detokenize(tf.strings.reduce_join(tokens, axis=-1, separator=" "))
        glued = (
            tf.strings.regex_full_match(text, f"(?s){CLOSING}.*")
            | tf.strings.regex_full_match(prompt, r"(?s)(.*\s)?")
        )
        return prompt + tf.where(glued, "", " ") + text


def step_cells(embedding, cells, head, token_ids, states):
    """One step of the language model: token ids `[rows]` and the cells' states -> logits
    `[rows, vocabulary]` and the new states (float32)."""
    x = embedding(token_ids)
    new_states = []
    position = 0
    for cell in cells:
        count = len(_state_sizes(cell))
        x, cell_states = cell(x, states[position : position + count], training=False)
        new_states.extend(tf.cast(state, tf.float32) for state in cell_states)
        position += count
    return tf.cast(head(x), tf.float32), new_states


def build_edge_core(model, vocabulary: TextVocabulary):
    """The language model's numeric core for LiteRT and ONNX (`rnnkit.task.EdgeCore`): one step,
    token ids `int32[batch]` and the states `state_i` -> `logits` and `next_state_i`. The client
    tokenizes, feeds the prompt and samples as `description` says."""
    import keras
    import numpy as np

    from rnnkit.task import EdgeCore

    embedding, head = model.get_layer("embedding"), model.get_layer("logits")
    cells = [layer.cell for layer in model.layers if isinstance(layer, keras.layers.RNN)]
    sizes = [size for cell in cells for size in _state_sizes(cell)]

    def step(token_ids, *states):
        logits, new_states = step_cells(embedding, cells, head, token_ids, list(states))
        # Other names than the inputs': an ONNX graph's inputs and outputs share one namespace.
        return {"logits": logits, **{f"next_state_{i}": state for i, state in enumerate(new_states)}}

    def sample(rng: np.random.Generator, rows: int) -> dict:
        inputs = {"token_ids": rng.integers(2, vocabulary.size, rows).astype(np.int32)}
        inputs.update({f"state_{i}": rng.uniform(-1, 1, (rows, size)).astype(np.float32) for i, size in enumerate(sizes)})
        return inputs

    if vocabulary.level == "char":
        tokenize = "one token per Unicode character; characters not in 'vocabulary' are left out"
        join = "concatenate the tokens"
    else:
        tokenize = ("the matches of 'word_pattern' (RE2 syntax) between white space (Unicode's, \\pZ and \\s, "
                    "never a token), a line break a token of its own; a word not in 'vocabulary' is 'unknown_id'")
        join = ("join the tokens with spaces, then remove the space before . , ! ? ; : % ) ] } and after ( [ {, "
                "and the spaces around line breaks")
    description = {
        "level": vocabulary.level,
        "vocabulary": vocabulary.id_to_token,
        "pad_id": 0,
        "unknown_id": 1,
        "start_id": vocabulary.id_to_token.index(vocabulary.start_token),
        "never_sample": [0, 1],
        **({"word_pattern": WORD_PATTERN_RE2} if vocabulary.level == "word" else {}),
        "states": [{"input": f"state_{i}", "output": f"next_state_{i}", "size": size} for i, size in enumerate(sizes)],
        "steps": [
            f"tokenize the prompt (\\r\\n read as \\n): {tokenize}; a prompt with no tokens is the one id 'start_id'",
            "start every state at zeros; feed the prompt's ids one at a time as 'token_ids', each step's "
            "'next_state_i' becoming the next step's 'state_i'",
            "after the prompt's last id, draw the next id from softmax(logits / temperature), with the ids in "
            "'never_sample' left out; feed it and repeat",
            f"turn ids into text: {join}",
        ],
    }
    inputs = [("token_ids", "int32", ()), *((f"state_{i}", "float32", (size,)) for i, size in enumerate(sizes))]
    return EdgeCore(model=model, function=step, inputs=inputs, sample=sample, description=description)


def prompt_token_ids(prompt, level: str, lookup, start_id):
    """Prompt strings -> ragged token ids, the way training tokenized the corpus.

    Unknown characters are dropped; unknown words become [UNK]; an empty prompt starts
    from `start_id`.
    """
    if level == "char":
        tokens = tf.strings.unicode_split(prompt, "UTF-8", errors="replace")
    else:
        spaced = tf.strings.regex_replace(prompt, "\n", f" {NEWLINE_MARK} ")
        spaced = tf.strings.regex_replace(spaced, WORD_PATTERN_RE2, r" \0 ")
        spaced = tf.strings.regex_replace(spaced, r"[\pZ\s]+", " ")  # Unicode spaces, as Python's \s
        tokens = tf.strings.split(spaced)
        tokens = tokens.with_flat_values(tf.where(tokens.flat_values == NEWLINE_MARK, "\n", tokens.flat_values))
    ids = tokens.with_flat_values(tf.cast(lookup(tokens.flat_values), tf.int32))
    if level == "char":
        ids = tf.ragged.boolean_mask(ids, ids > 1)
    empty = tf.cast(ids.row_lengths() == 0, tf.int64)
    starts = tf.RaggedTensor.from_row_lengths(tf.fill([tf.reduce_sum(empty)], start_id), empty)
    return tf.concat([starts, ids], axis=1)


def detokenize(text):
    """Undo the spaces that joining word tokens put around punctuation and line breaks."""
    text = tf.strings.regex_replace(text, r" ?\n ?", "\n")
    text = tf.strings.regex_replace(text, r" ([.,!?;:%)\]}])", r"\1")
    return tf.strings.regex_replace(text, r"([(\[{]) ", r"\1")


def _bucket(value, smallest: int):
    """The smallest power of two >= `value` and >= `smallest` (an int32 scalar tensor)."""
    value = tf.maximum(tf.cast(value, tf.int32), smallest)
    exponent = tf.math.ceil(tf.math.log(tf.cast(value, tf.float64)) / tf.math.log(tf.constant(2.0, tf.float64)))
    return tf.maximum(tf.cast(tf.pow(tf.constant(2.0, tf.float64), exponent), tf.int32), value)


def _state_sizes(cell) -> list[int]:
    size = cell.state_size
    return list(size) if isinstance(size, (list, tuple)) else [size]
