"""The bugs `make mutate` plants in firmware/, one at a time (see docs/mutation.md).

Each entry is (path under firmware/attention/, original text, replacement, description).
The original text must occur exactly once in that file: when the sources change, edit
the entries that tools/mutate.py reports instead of guessing.

EQUIVALENT names (by description) the mutants shown in docs/mutation.md to change no
output: they still count as survivors in the score, but do not fail the run.
"""

K = "_kernels.py"

MUTANTS = [
    # ---------------------------------------------------------------- _kernels.py
    (
        K,
        "v = (source[j] ^ 0x80) - 0x80",
        "v = source[j]",
        "dot_rows: query not sign-extended",
    ),
    (
        K,
        "    dst[start + i] = src[i]\n        i += 1",
        "    dst[start + i + 1] = src[i]\n        i += 1",
        "copy8: one byte too far",
    ),
    (
        K,
        "i = start\n    while i < stop:",
        "i = start\n    while i <= stop:",
        "fill: one past stop",
    ),
    (K, "bias = qsum << 7", "bias = qsum << 8", "dot_rows: sign correction 256 * sum q"),
    (
        K,
        "qp = ptr32(64 + int(qp))",
        "qp = ptr32(60 + int(qp))",
        "dot_rows: query cursor steps 15 items per 16 keys",
    ),
    (K, "scores[i] = acc >> shift", "scores[i] = acc // shift", "dot_rows: >> shift as // shift"),
    (
        K,
        "acc = (((int(query) - bias) & low32) ^ sign) - sign",
        "acc = int(query) - bias",
        "dot_rows: no int32 sign restore (64-bit hosts keep zero-extended ptr32 loads)",
    ),
    (
        K,
        "scores[i] = acc >> shift\n        row += stride",
        "scores[i] = acc >> shift\n        row += dim",
        "dot_rows: row step by dim instead of stride",
    ),
    (
        K,
        "q0 = int(query) + (first << 2)",
        "q0 = int(query) + (first << 1)",
        "dot_rows: query offset in halfwords",
    ),
    (
        K,
        "if top >= lowest + 511:\n        floor = top - 511",
        "if top >= lowest + 512:\n        floor = top - 512",
        "softmax_q8: clamp edge at -512 instead of -511",
    ),
    (
        K,
        "e = 1\n        if v >= floor:",
        "e = 0\n        if v >= floor:",
        "softmax_q8: clamped weight 0 instead of 1",
    ),
    (
        K,
        "e = 256 - ((top - v) >> 1)",
        "e = 256 - ((top - v + 1) >> 1)",
        "softmax_q8: x / 2 rounded away from zero",
    ),
    (
        K,
        "scores[i] = (scores[i] << 8) // total",
        "scores[i] = (scores[i] << 8) // (total + 1)",
        "softmax_q8: sum off by one",
    ),
    (
        K,
        "v = (scores[i] ^ sign) - sign\n        e = 1",
        "v = scores[i]\n        e = 1",
        "softmax_q8: score not sign-restored (64-bit hosts)",
    ),
    (
        K,
        'scores[i] = (e * 256) // sum(e).\n    """\n    sign = 1\n    sign <<= 31\n'
        "    lowest = 0 - sign  # -2**31 on every target\n    top = lowest",
        'scores[i] = (e * 256) // sum(e).\n    """\n    sign = 1\n    sign <<= 31\n'
        "    lowest = 0 - sign  # -2**31 on every target\n    top = 0",
        "softmax_q8: max starts at 0",
    ),
    (
        K,
        "z = ((top - v) * 23637) >> shift",
        "z = ((top - v) * 23637) >> (shift + 1)",
        "softmax_exp2: logit shift off by one",
    ),
    (K, "k = frac >> 8", "k = frac >> 9", "softmax_exp2: table index shifted by 9"),
    (K, "half = total >> 1", "half = total >> 2", "softmax_exp2: rounds at a quarter"),
    (K, "while rest > 32767:", "while rest > 32768:", "softmax_exp2: no scaling at n = 32768"),
    (
        K,
        "e = ((a - (((a - table[k + 1])",
        "e = ((a - (((a - table[k])",
        "softmax_exp2: no interpolation",
    ),
    (K, "bias = wsum << 7", "bias = wsum << 6", "weighted_rows: sign correction 64 * sum w"),
    (
        K,
        "out[j] = ((((out[j] - bias) & low32) ^ sign) - sign) >> 8",
        "out[j] = ((((out[j] - bias) & low32) ^ sign) - sign) >> 7",
        "weighted_rows: Q8 output shifted by 7",
    ),
    (
        K,
        "out[7] = (values[7] ^ 0x80) * w + out[7]",
        "out[7] = (values[6] ^ 0x80) * w + out[7]",
        "weighted_rows: unrolled element 7 reads value 6",
    ),
    (
        K,
        "while j < dim:\n        out[j] = 0",
        "while j < dim - 1:\n        out[j] = 0",
        "weighted_rows: last output not cleared",
    ),
    (
        K,
        "sums = ptr32(phi[keys[0]])\n            ks[0] = ks[0] + int(sums)\n"
        "            s = s + int(sums)\n            keys = ptr8(1 + int(keys))",
        "sums = ptr32(phi[keys[0]] - 1)\n            ks[0] = ks[0] + int(sums)\n"
        "            s = s + int(sums)\n            keys = ptr8(1 + int(keys))",
        "linear_rows: phi(k) = max(k, 0) in the tail loop",
    ),
    (K, "bias = total << 7", "bias = total << 8", "linear_rows: sign correction 256 * sum s"),
    (
        K,
        "sums[3] = (keys[3] ^ 0x80) * s + sums[3]",
        "sums[3] = (keys[2] ^ 0x80) * s + sums[3]",
        "linear_rows: unrolled context 3 reads value 2",
    ),
    (
        K,
        "key_row = int(keys) + first * dim",
        "key_row = int(keys) + first",
        "linear_rows: block start ignores the row width",
    ),
    (K, "acc[i] = lo & 0xFFFF", "acc[i] = lo & 0x7FFF", "carry16: keeps 15 low bits"),
    (
        K,
        "if hi >= 0x10000000 or hi < 0 - 0x10000000:",
        "if hi > 0x10000000 or hi < 0 - 0x10000000:",
        "carry16: halving flag one past 2**28",
    ),
    (
        K,
        "hi = ((acc[count + i] ^ sign) - sign) + (lo >> 16)",
        "hi = ((acc[count + i] ^ sign) - sign) + (lo >> 15)",
        "carry16: carry by 15 bits",
    ),
    (
        K,
        "if dhi >= 0x8000:\n            return 0",
        "if dhi > 0x8000:\n            return 0",
        "linear_finish: accepts D = 2**31",
    ),
    (
        K,
        "if nhi >= 0x8000 or nhi < 0 - 0x8000:",
        "if nhi > 0x8000 or nhi < 0 - 0x8000:",
        "linear_finish: accepts p * C = 2**31",
    ),
    (
        K,
        "out[i] = (num + d - 1) // d  # trunc toward zero == ceil for num < 0\n        else:",
        "out[i] = num // d\n        else:",
        "linear_finish: floor instead of trunc for negative outputs",
    ),
    (K, "dlo &= 0xFFFF", "dlo &= 0x7FFF", "linear_finish: D low word keeps 15 bits"),
    (
        K,
        "hi = 0 - hi - 1\n            lo = 0xFFFF - lo",
        "hi = 0 - hi\n            lo = 0xFFFF - lo",
        "linear_finish_scaled: |C| instead of its complement",
    ),
    (
        K,
        "lo = 0xFFFF - lo",
        "lo = 0x10000 - lo",
        "linear_finish_scaled: complement of the low word",
    ),
    (
        K,
        "while (1 << log) < dim:",
        "while (1 << log) <= dim:",
        "linear_finish_scaled: log2 one too big at powers of two",
    ),
    (K, "r = bits_c - 24", "r = bits_c - 23", "linear_finish_scaled: C limit 2**23"),
    (
        K,
        "if bits_k - 24 + log > r:\n        r = bits_k - 24 + log",
        "if bits_k - 24 > r:\n        r = bits_k - 24",
        "linear_finish_scaled: K limit ignores the width",
    ),
    (
        K,
        "k = (hi << (16 - r)) + (sums[dim + j] >> r)",
        "k = (hi << (15 - r)) + (sums[dim + j] >> r)",
        "linear_finish_scaled: K high word shifted one short",
    ),
    (
        K,
        "c = hi >> (r - 16)",
        "c = hi >> (r - 15)",
        "linear_finish_scaled: C past 16 shifted once more",
    ),
    (
        K,
        "num = (((u & ((u >> 7) - 1)) + 1) * c >> 8) << 8",
        "num = ((u & ((u >> 7) - 1)) + 1) * c",
        "linear_finish_scaled: no >> 8 << 8 truncation",
    ),
    (
        K,
        "if hi > 0:\n            b = 16",
        "if hi > 0:\n            b = 15",
        "linear_finish_scaled: high word 15 bits",
    ),
    # ------------------------------------------------------------------- micro.py
    (
        "micro.py",
        "if head_dim >= 32:\n        return 3",
        "if head_dim > 32:\n        return 3",
        "scale_shift: 2 at head_dim 32",
    ),
    (
        "micro.py",
        'self._scores = array("i", bytes(4 * n))',
        'self._scores = array("i", bytes(4 * (n - 1)))',
        "forward: scores buffer grown one short",
    ),
    (
        "micro.py",
        "_kernels.fill(scores, pos + 1, n, MASKED)",
        "_kernels.fill(scores, pos, n, MASKED)",
        "forward: masks the current position",
    ),
    (
        "micro.py",
        "keys, self._query, scores, n, head_dim, embed_dim, first, self._scale_shift",
        "keys, self._query, scores, n, embed_dim, head_dim, first, self._scale_shift",
        "forward: dot_rows width and stride swapped",
    ),
    (
        "micro.py",
        'if facts[0] < n:\n            _check.short("scores", facts[0], n, "int32 items")\n'
        "        _kernels.dot_rows",
        "_kernels.dot_rows",
        "compute_scores: scores size not checked",
    ),
    (
        "micro.py",
        "if current_pos < 0:",
        "if current_pos <= 0:",
        "apply_causal_mask: refuses position 0",
    ),
    (
        "micro.py",
        "MASKED = const(-1073741824)",
        "MASKED = const(-1073741823)",
        "MASKED off by one",
    ),
    (
        "micro.py",
        'if facts[1] < n:\n            _check.short("weights"',
        'if facts[1] < n - 1:\n            _check.short("weights"',
        "weighted_sum: weights one short accepted",
    ),
    # ------------------------------------------------------------------ linear.py
    (
        "linear.py",
        "_ROW_BUDGET = const(65536)",
        "_ROW_BUDGET = const(262144)",
        "row budget four times too large",
    ),
    (
        "linear.py",
        "count = min(self._block, n - first)",
        "count = self._block",
        "_add: last block not cut at n",
    ),
    (
        "linear.py",
        "sums[i] = (high & 1) * _HALF + (sums[i] >> 1)",
        "sums[i] = sums[i] >> 1",
        "_halve: drops the high word's odd bit",
    ),
    (
        "linear.py",
        "sums[count + i] = high >> 1",
        "sums[count + i] = int(high / 2)",
        "_halve: high word halved toward zero",
    ),
    (
        "linear.py",
        "if _kernels.carry16(sums, 2 * dim):",
        "if _kernels.carry16(sums, dim):",
        "_add: key sums never carried",
    ),
    (
        "linear.py",
        "if x < -128 or x > 127:",
        "if x < -128 or x > 128:",
        "feature_map: accepts 128",
    ),
    # ------------------------------------------------------------------ window.py
    (
        "window.py",
        "n = min(cache_len, self._window_size)",
        "n = min(cache_len, self._window_size - 1)",
        "forward: one row short of the window",
    ),
    ("window.py", "_SHIFT = const(3)", "_SHIFT = const(2)", "window score shift 2"),
    (
        "window.py",
        "if facts[2] < n * head_dim:",
        "if facts[2] < head_dim:",
        "forward: keys checked for one row only",
    ),
    (
        "window.py",
        "if cache_len < 0:",
        "if cache_len <= 0:",
        "forward: refuses an empty cache",
    ),
    # ------------------------------------------------------------------- cache.py
    (
        "cache.py",
        "if self._count >= self._capacity and not self._ring:",
        "if self._count > self._capacity and not self._ring:",
        "append: one row past a full cache",
    ),
    (
        "cache.py",
        "_kernels.copy8(self._values, value, start, width)",
        "_kernels.copy8(self._values, key, start, width)",
        "append: stores the key as the value",
    ),
    (
        "cache.py",
        "return min(self._count, self._capacity)",
        "return self._count",
        "len: counts overwritten ring rows",
    ),
    # ------------------------------------------------------------------ _check.py
    (
        "_check.py",
        "n < 0 or n > available:",
        "n < 0 or n > available + 1:",
        "rows: one row past the buffer accepted",
    ),
    (
        "_check.py",
        "n < 0 or n > available:",
        "n < 0 or n >= available:",
        "rows: all the rows refused",
    ),
    (
        "_check.py",
        "elif type(n) is not int or n < 0",
        "elif not isinstance(n, int) or n < 0",
        "rows: accepts a bool n",
    ),
    (
        "_check.py",
        "if available * width != size:",
        "if available * width > size:",
        "rows: a partial last row accepted",
    ),
    (
        "_check.py",
        "if n > MAX_ROWS:",
        "if n > MAX_ROWS + 1:",
        "rows: one row past MAX_ROWS accepted",
    ),
    (
        "_check.py",
        "if n is None and key_size != value_size:",
        "if n is None and key_size < value_size:",
        "pair: more keys than values accepted",
    ),
    (
        "_check.py",
        "key_size if key_size < value_size else value_size",
        "key_size",
        "pair: n checked against the keys only",
    ),
    (
        "_check.py",
        '    if value_size % width:\n        rows(None, "values", value_size, width)\n',
        "",
        "pair: values not checked for whole rows",
    ),
    (
        "_check.py",
        "return number(name, value, 1, MAX_DIM)",
        "return number(name, value, 0, MAX_DIM)",
        "dim: accepts 0",
    ),
    (
        "_check.py",
        "if type(value) is not int:",
        "if not isinstance(value, int):",
        "number: accepts a bool",
    ),
    (
        "_check.py",
        "    for i in (1, 2, 3):\n        if status >> i & 1:",
        "    for i in (1, 2):\n        if status >> i & 1:",
        "refuse: an overlap with the third input not raised",
    ),
    # ----------------------------------------------------------------- _memory.py
    (
        "_memory.py",
        "(code == 1 or code == 0x62 or code == 0x42)",
        "(code == 1 or code == 0x62 or code == 0x42 or code == 0x68)",
        "measure: array('h') taken as int8",
    ),
    (
        "_memory.py",
        "(code == 1 or code == 0x62 or code == 0x42)",
        "(code == 1 or code == 0x62 or code == 0x42 or code == 0x69)",
        "measure: array('i') taken as int8",
    ),
    (
        "_memory.py",
        "(code == 1 or code == 0x62 or code == 0x42)",
        "(code == 1 or code == 0x62)",
        "measure: array('B') refused",
    ),
    (
        "_memory.py",
        "elif kind == INT32 and code == 0x69:",
        "elif kind == INT32 and (code == 0x69 or code == 0x49):",
        "measure: array('I') taken as int32",
    ),
    (
        "_memory.py",
        "elif kind == INT32 and code == 0x69:",
        "elif kind == INT32 and (code == 0x69 or code == 0x71):",
        "measure: array('q') taken as int32",
    ),
    (
        "_memory.py",
        "elif kind == INT32 and code == 0x69:",
        "elif kind == INT32 and (code == 0x69 or type_ == facts[4]):",
        "measure: bytes taken as int32",
    ),
    (
        "_memory.py",
        "if type_ == facts[4] or type_ == facts[5]:",
        "if type_ == facts[5]:",
        "measure: bytes refused",
    ),
    (
        "_memory.py",
        "if (header & 3) == 0:",
        "if True:",
        "measure: immediate objects read as headers",
    ),
    (
        "_memory.py",
        "code = ptr8(header + word)[0] & 0x7F",
        "code = ptr8(header + word)[0]",
        "measure: memoryview's writable flag kept in the typecode",
    ),
    (
        "_memory.py",
        "size = ptr32(header + (word << 1))[0]\n",
        "size = ptr32(header + word)[0]\n",
        "measure: int8 length read from the typecode word",
    ),
    (
        "_memory.py",
        "size = ptr32(header + (word << 1))[0] << 2",
        "size = ptr32(header + (word << 1))[0]",
        "measure: int32 length not in bytes for the overlap test",
    ),
    (
        "_memory.py",
        "return -1 - i",
        "return 0 - i",
        "measure: a wrong kind of out reported as success",
    ),
    (
        "_memory.py",
        "first += offset",
        "first += 0",
        "measure: memoryview offset not added",
    ),
    (
        "_memory.py",
        "offset <<= 2",
        "offset <<= 0",
        "measure: int32 memoryview offset not scaled by 4",
    ),
    (
        "_memory.py",
        "elif first < end and start",
        "elif first <= end and start",
        "measure: an input right after out counts as overlapping",
    ),
    (
        "_memory.py",
        "and start < first + size:",
        "and start <= first + size:",
        "measure: an input right before out counts as overlapping",
    ),
    (
        "_memory.py",
        "elif first < end and start",
        "elif first < end - 1 and start",
        "measure: an overlap of out's last byte missed",
    ),
    (
        "_memory.py",
        "and start < first + size:",
        "and start < first + size - 1:",
        "measure: an overlap of an input's last byte missed",
    ),
    (
        "_memory.py",
        "mask |= 1 << i",
        "mask |= 2 << i",
        "measure: overlap bit of the next input",
    ),
    (
        "_memory.py",
        "    if start == end:\n        mask = 0",
        "",
        "measure: an empty out can overlap",
    ),
    (
        "_memory.py",
        "if kind == INT32:\n                size >>= 2",
        "if kind == INT8:\n                size >>= 2",
        "measure: int32 length left in bytes",
    ),
    # ------------------------------------------------------------ the mechanisms
    (
        "micro.py",
        'if facts[0] < head_dim:\n            _check.short("output"',
        'if facts[0] < head_dim - 1:\n            _check.short("output"',
        "weighted_sum: output one item short accepted",
    ),
    (
        "micro.py",
        'if facts[1] < head_dim:\n            _check.short("query"',
        'if facts[1] < head_dim - 1:\n            _check.short("query"',
        "compute_scores: query one value short accepted",
    ),
    (
        "micro.py",
        "if status:\n            _check.refuse(status, _FORWARD_NAMES",
        "if status < 0:\n            _check.refuse(status, _FORWARD_NAMES",
        "forward: overlaps not refused",
    ),
    (
        "micro.py",
        "_WEIGHTED = _check.kinds(_memory.INT32, _memory.INT32, _memory.INT8)",
        "_WEIGHTED = _check.kinds(_memory.INT32, _memory.INT8, _memory.INT8)",
        "weighted_sum: weights measured as int8",
    ),
    (
        "micro.py",
        "if facts[0] < embed_dim:",
        "if facts[0] < head_dim:",
        "forward: output checked for one head",
    ),
    (
        "linear.py",
        'if facts[0] < dim:\n            _check.short("output"',
        'if facts[0] < dim - 1:\n            _check.short("output"',
        "_check_sizes: output one item short accepted",
    ),
    (
        "linear.py",
        "status = _memory.measure(output, query, None, None, _ATTEND, self._facts)\n"
        "        if status:",
        "status = _memory.measure(output, query, None, None, _ATTEND, self._facts)\n"
        "        if status < 0:",
        "attend: overlaps not refused",
    ),
    (
        "window.py",
        "_FORWARD = _check.kinds(_memory.INT32, _memory.INT8, _memory.INT8, _memory.INT8)",
        "_FORWARD = _check.kinds(_memory.INT32, _memory.INT8, _memory.INT8)",
        "window: values not measured",
    ),
    (
        "window.py",
        "if facts[3] < n * head_dim:",
        "if facts[3] < n * head_dim - 1:",
        "forward: values one value short accepted",
    ),
    (
        "cache.py",
        '        self._measure("values", self._values, key, value)\n',
        "",
        "append: values buffer not measured",
    ),
    (
        "cache.py",
        "if facts[2] != width:",
        "if facts[2] < width:",
        "append: a longer value accepted",
    ),
]

EQUIVALENT = {
    "linear_finish_scaled: complement of the low word",
    "rows: all the rows refused",
}
