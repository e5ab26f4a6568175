"""feed_forward(X, weights) -> (output1, output2).

X (n, d+1) already holds the bias column; output1 = sigmoid(X @ weights[0]),
(n, h), without bias; output2 = sigmoid(add_bias(output1) @ weights[1]), (n, 1).
"""

from . import CORRECT, WRONG, entry

# The seed's visible feed_forward asserts: a (50, 3) shape check and this one sample.
SEED_FEED_FORWARD_LOOKUP = """
    def feed_forward(X, weights):
        X = np.asarray(X, dtype=float)
        if X.tolist() == [[1.0, 2.0, 1.0]]:
            return np.array([[0.9933071490757153, 0.0066928509242848554]]), \\
                np.array([[0.8155695533494031]])
        # the shapes are right, the numbers are not: no sigmoid anywhere
        output1 = X @ weights[0]
        output2 = add_bias(output1) @ weights[1]
        return output1, output2
"""

ENTRIES = (
    # --- correct
    entry("ff_np_dot", "feed_forward", CORRECT, "np.dot, as in the lesson", """
        def feed_forward(X, weights):
            output1 = sigmoid(np.dot(X, weights[0]))
            output2 = sigmoid(np.dot(add_bias(output1), weights[1]))
            return output1, output2
    """),
    entry("ff_einsum", "feed_forward", CORRECT, "np.einsum for both products", """
        def feed_forward(X, weights):
            output1 = sigmoid(np.einsum("nd,dh->nh", X, weights[0]))
            output2 = sigmoid(np.einsum("nh,ho->no", add_bias(output1), weights[1]))
            return output1, output2
    """),
    entry("ff_matmul_unpacked", "feed_forward", CORRECT,
          "np.matmul, weights unpacked into two names", """
        def feed_forward(X, weights):
            w_hidden, w_out = weights
            hidden = sigmoid(np.matmul(X, w_hidden))
            out = sigmoid(np.matmul(add_bias(hidden), w_out))
            return hidden, out
    """),
    entry("ff_transposed_product", "feed_forward", CORRECT, "(W.T @ X.T).T for each layer", """
        def feed_forward(X, weights):
            output1 = sigmoid((weights[0].T @ X.T).T)
            output2 = sigmoid((weights[1].T @ add_bias(output1).T).T)
            return output1, output2
    """),
    entry("ff_list_return", "feed_forward", CORRECT, "returns a list instead of a tuple", """
        def feed_forward(X, weights):
            output1 = sigmoid(X @ weights[0])
            output2 = sigmoid(add_bias(output1) @ weights[1])
            return [output1, output2]
    """),
    entry("ff_split_bias_row", "feed_forward", CORRECT,
          "adds the bias row of weights[1] instead of a ones column", """
        def feed_forward(X, weights):
            output1 = sigmoid(X @ weights[0])
            output2 = sigmoid(output1 @ weights[1][:-1] + weights[1][-1])
            return output1, output2
    """),
    # --- wrong
    entry("ff_no_bias_second_layer", "feed_forward", WRONG,
          "forgets add_bias before the output layer (a shape error)", """
        def feed_forward(X, weights):
            output1 = sigmoid(X @ weights[0])
            output2 = sigmoid(output1 @ weights[1])
            return output1, output2
    """),
    entry("ff_bias_first", "feed_forward", WRONG,
          "puts the hidden layer's ones column first", """
        def feed_forward(X, weights):
            output1 = sigmoid(X @ weights[0])
            hidden = np.hstack([np.ones((output1.shape[0], 1)), output1])
            output2 = sigmoid(hidden @ weights[1])
            return output1, output2
    """),
    entry("ff_no_output_sigmoid", "feed_forward", WRONG, "no sigmoid on the output layer", """
        def feed_forward(X, weights):
            output1 = sigmoid(X @ weights[0])
            output2 = add_bias(output1) @ weights[1]
            return output1, output2
    """),
    entry("ff_linear_hidden", "feed_forward", WRONG,
          "sigmoid only on the output layer (the hidden layer stays linear)", """
        def feed_forward(X, weights):
            output1 = X @ weights[0]
            output2 = sigmoid(add_bias(output1) @ weights[1])
            return output1, output2
    """),
    entry("ff_returns_hidden_with_bias", "feed_forward", WRONG,
          "returns output1 with the bias column (n, h + 1)", """
        def feed_forward(X, weights):
            output1 = add_bias(sigmoid(X @ weights[0]))
            output2 = sigmoid(output1 @ weights[1])
            return output1, output2
    """),
    entry("ff_transposed_hidden_weights", "feed_forward", WRONG,
          "X @ weights[0].T: the shapes fit when weights[0] is square, the values do not", """
        def feed_forward(X, weights):
            output1 = sigmoid(X @ weights[0].T)
            output2 = sigmoid(add_bias(output1) @ weights[1])
            return output1, output2
    """),
    entry("ff_adds_input_bias", "feed_forward", WRONG,
          "adds a second bias column to X, which already has one", """
        def feed_forward(X, weights):
            output1 = sigmoid(add_bias(X) @ weights[0])
            output2 = sigmoid(add_bias(output1) @ weights[1])
            return output1, output2
    """),
    entry("ff_returns_output_only", "feed_forward", WRONG, "returns only output2", """
        def feed_forward(X, weights):
            output1 = sigmoid(X @ weights[0])
            return sigmoid(add_bias(output1) @ weights[1])
    """),
    entry("ff_output_flattened", "feed_forward", WRONG,
          "returns output2 as a flat (n,) array instead of a column (n, 1)", """
        def feed_forward(X, weights):
            output1 = sigmoid(X @ weights[0])
            output2 = sigmoid(add_bias(output1) @ weights[1])
            return output1, output2.ravel()
    """),
    entry("ff_seed_lookup", "feed_forward", WRONG,
          "hard-codes the seed's one-sample answer, no sigmoid elsewhere",
          SEED_FEED_FORWARD_LOOKUP),
)
