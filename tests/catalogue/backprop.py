"""backprop(weights, output1, output2, ytrue, X_input, LR) -> (wH_new, wO_new).

One gradient-descent step on the log loss SUMMED over the samples:
y_grad = sigmoid_der(add_bias(out1) @ wO) * log_loss_der(y, out2)  (= out2 - y),
wO_new = wO - LR * add_bias(out1).T @ y_grad,
H_grad = sigmoid_der(X @ wH) * (y_grad @ wO[:-1].T)  (the OLD wO, without its bias row),
wH_new = wH - LR * X.T @ H_grad. New arrays are returned; the inputs stay unchanged.

Mutating the weights in place (``wO -= ...``) is graded wrong: the docstring
promises unchanged inputs, and a caller that keeps the old weights (to compare
losses before and after, or to run a gradient check) silently gets the new ones.
"""

from . import CORRECT, WRONG, entry

# Each wrong entry changes one thing of a correct implementation; all are full defs.
ENTRIES = (
    # --- correct
    entry("bp_seed_deltas", "backprop", CORRECT,
          "the lesson's form: negative deltas, transposed, added", """
        def backprop(weights, output1, output2, ytrue, X_input, LR):
            wH = weights[0]
            wO = weights[1]
            error = log_loss_der(ytrue, output2)
            hidden_out_with_bias = add_bias(output1)
            y_grad = sigmoid_der(hidden_out_with_bias.dot(wO)) * error
            delta_wO = -np.dot(y_grad.T, hidden_out_with_bias) * LR
            wO_new = wO + delta_wO.T
            H_grad = sigmoid_der(X_input.dot(wH)) * y_grad.dot(wO[:-1].T)
            delta_wH = -np.dot(H_grad.T, X_input) * LR
            wH_new = wH + delta_wH.T
            return wH_new, wO_new
    """),
    entry("bp_p_minus_y", "backprop", CORRECT,
          "the output delta simplified to output2 - ytrue", """
        def backprop(weights, output1, output2, ytrue, X_input, LR):
            wH, wO = weights
            delta_out = output2 - ytrue
            hidden = add_bias(output1)
            delta_hidden = output1 * (1 - output1) * (delta_out @ wO[:-1].T)
            wO_new = wO - LR * hidden.T @ delta_out
            wH_new = wH - LR * X_input.T @ delta_hidden
            return wH_new, wO_new
    """),
    entry("bp_einsum", "backprop", CORRECT, "np.einsum for every product", """
        def backprop(weights, output1, output2, ytrue, X_input, LR):
            wH, wO = weights
            hidden = add_bias(output1)
            y_grad = sigmoid_der(np.einsum("nh,ho->no", hidden, wO)) \\
                * log_loss_der(ytrue, output2)
            H_grad = sigmoid_der(np.einsum("nd,dh->nh", X_input, wH)) \\
                * np.einsum("no,ho->nh", y_grad, wO[:-1])
            wO_new = wO - LR * np.einsum("nh,no->ho", hidden, y_grad)
            wH_new = wH - LR * np.einsum("nd,nh->dh", X_input, H_grad)
            return wH_new, wO_new
    """),
    entry("bp_per_sample_loop", "backprop", CORRECT,
          "loops over the samples and sums the per-sample gradients", """
        def backprop(weights, output1, output2, ytrue, X_input, LR):
            wH, wO = weights
            grad_H = np.zeros(wH.shape)
            grad_O = np.zeros(wO.shape)
            for i in range(X_input.shape[0]):
                x = X_input[i]                              # (d + 1,)
                h = np.append(output1[i], 1.0)              # (h + 1,)
                d_out = output2[i] - ytrue[i]               # (1,)
                d_hid = output1[i] * (1 - output1[i]) * (wO[:-1] @ d_out)  # (h,)
                grad_O += h[:, None] * d_out[None, :]
                grad_H += x[:, None] * d_hid[None, :]
            return wH - LR * grad_H, wO - LR * grad_O
    """),
    entry("bp_outer_sums", "backprop", CORRECT, "sums np.outer products sample by sample", """
        def backprop(weights, output1, output2, ytrue, X_input, LR):
            wH, wO = weights
            hidden = add_bias(output1)
            y_grad = (output2 - ytrue)
            H_grad = sigmoid_der(X_input @ wH) * (y_grad @ wO[:-1].T)
            n = X_input.shape[0]
            grad_O = sum(np.outer(hidden[i], y_grad[i]) for i in range(n))
            grad_H = sum(np.outer(X_input[i], H_grad[i]) for i in range(n))
            return wH - LR * grad_H, wO - LR * grad_O
    """),
    entry("bp_gradients_then_updates", "backprop", CORRECT,
          "computes both gradients before touching any weight, returns a list", """
        def backprop(weights, output1, output2, ytrue, X_input, LR):
            wH, wO = weights
            hidden = add_bias(output1)
            y_grad = sigmoid_der(hidden @ wO) * log_loss_der(ytrue, output2)
            H_grad = sigmoid_der(X_input @ wH) * (y_grad @ wO[:-1].T)
            grad_wO = hidden.T @ y_grad
            grad_wH = X_input.T @ H_grad
            return [wH - LR * grad_wH, wO - LR * grad_wO]
    """),
    entry("bp_activation_derivative", "backprop", CORRECT,
          "sigmoid' from the activations: out * (1 - out), equal to sigmoid_der(z)", """
        def backprop(weights, output1, output2, ytrue, X_input, LR):
            wH, wO = weights
            error = log_loss_der(ytrue, output2)
            y_grad = output2 * (1 - output2) * error
            H_grad = output1 * (1 - output1) * (y_grad @ wO[:-1].T)
            wO_new = wO - LR * (add_bias(output1).T @ y_grad)
            wH_new = wH - LR * (X_input.T @ H_grad)
            return wH_new, wO_new
    """),
    entry("bp_drop_bias_after", "backprop", CORRECT,
          "backpropagates through all of wO, then drops the bias column of the result", """
        def backprop(weights, output1, output2, ytrue, X_input, LR):
            wH, wO = weights
            hidden = add_bias(output1)
            y_grad = output2 - ytrue
            back = (y_grad @ wO.T)[:, :-1]
            H_grad = sigmoid_der(X_input @ wH) * back
            return wH - LR * X_input.T @ H_grad, wO - LR * hidden.T @ y_grad
    """),
    entry("bp_y_minus_p_plus", "backprop", CORRECT,
          "the negative gradient written as (ytrue - output2) and added", """
        def backprop(weights, output1, output2, ytrue, X_input, LR):
            wH, wO = weights
            hidden = add_bias(output1)
            step_out = ytrue - output2
            step_hidden = output1 * (1 - output1) * (step_out @ wO[:-1].T)
            return wH + LR * X_input.T @ step_hidden, wO + LR * hidden.T @ step_out
    """),
    # --- wrong
    entry("bp_mean_gradient", "backprop", WRONG,
          "averages the gradient over the samples (divides by n) instead of summing", """
        def backprop(weights, output1, output2, ytrue, X_input, LR):
            wH, wO = weights
            n = X_input.shape[0]
            hidden = add_bias(output1)
            y_grad = output2 - ytrue
            H_grad = sigmoid_der(X_input @ wH) * (y_grad @ wO[:-1].T)
            wO_new = wO - LR * hidden.T @ y_grad / n
            wH_new = wH - LR * X_input.T @ H_grad / n
            return wH_new, wO_new
    """),
    entry("bp_gradient_ascent", "backprop", WRONG, "adds the gradient (+ instead of -)", """
        def backprop(weights, output1, output2, ytrue, X_input, LR):
            wH, wO = weights
            hidden = add_bias(output1)
            y_grad = sigmoid_der(hidden @ wO) * log_loss_der(ytrue, output2)
            H_grad = sigmoid_der(X_input @ wH) * (y_grad @ wO[:-1].T)
            return wH + LR * X_input.T @ H_grad, wO + LR * hidden.T @ y_grad
    """),
    entry("bp_sigmoid_der_of_activation", "backprop", WRONG,
          "sigmoid_der(output2) and sigmoid_der(output1): the derivative evaluated at the "
          "activation instead of the pre-activation", """
        def backprop(weights, output1, output2, ytrue, X_input, LR):
            wH, wO = weights
            y_grad = sigmoid_der(output2) * log_loss_der(ytrue, output2)
            H_grad = sigmoid_der(output1) * (y_grad @ wO[:-1].T)
            wO_new = wO - LR * add_bias(output1).T @ y_grad
            wH_new = wH - LR * X_input.T @ H_grad
            return wH_new, wO_new
    """),
    entry("bp_hidden_delta_not_transposed", "backprop", WRONG,
          "the lesson's delta_wH = -(H_grad.T @ X) * LR added without .T: (h, d+1), "
          "fits only when the hidden weights are square", """
        def backprop(weights, output1, output2, ytrue, X_input, LR):
            wH, wO = weights
            hidden = add_bias(output1)
            y_grad = sigmoid_der(hidden @ wO) * log_loss_der(ytrue, output2)
            wO_new = wO + (-np.dot(y_grad.T, hidden) * LR).T
            H_grad = sigmoid_der(X_input @ wH) * (y_grad @ wO[:-1].T)
            delta_wH = -np.dot(H_grad.T, X_input) * LR
            wH_new = wH + delta_wH
            return wH_new, wO_new
    """),
    entry("bp_updated_wO_in_hidden_grad", "backprop", WRONG,
          "backpropagates through the already updated output weights", """
        def backprop(weights, output1, output2, ytrue, X_input, LR):
            wH, wO = weights
            hidden = add_bias(output1)
            y_grad = sigmoid_der(hidden @ wO) * log_loss_der(ytrue, output2)
            wO = wO - LR * hidden.T @ y_grad
            H_grad = sigmoid_der(X_input @ wH) * (y_grad @ wO[:-1].T)
            wH = wH - LR * X_input.T @ H_grad
            return wH, wO
    """),
    entry("bp_keeps_bias_row", "backprop", WRONG,
          "backpropagates through the bias row too (wO instead of wO[:-1]): a shape error", """
        def backprop(weights, output1, output2, ytrue, X_input, LR):
            wH, wO = weights
            hidden = add_bias(output1)
            y_grad = sigmoid_der(hidden @ wO) * log_loss_der(ytrue, output2)
            H_grad = sigmoid_der(X_input @ wH) * (y_grad @ wO.T)
            return wH - LR * X_input.T @ H_grad, wO - LR * hidden.T @ y_grad
    """),
    entry("bp_no_lr_hidden", "backprop", WRONG, "forgets LR on the hidden layer", """
        def backprop(weights, output1, output2, ytrue, X_input, LR):
            wH, wO = weights
            hidden = add_bias(output1)
            y_grad = sigmoid_der(hidden @ wO) * log_loss_der(ytrue, output2)
            H_grad = sigmoid_der(X_input @ wH) * (y_grad @ wO[:-1].T)
            return wH - X_input.T @ H_grad, wO - LR * hidden.T @ y_grad
    """),
    entry("bp_no_lr_output", "backprop", WRONG, "forgets LR on the output layer", """
        def backprop(weights, output1, output2, ytrue, X_input, LR):
            wH, wO = weights
            hidden = add_bias(output1)
            y_grad = sigmoid_der(hidden @ wO) * log_loss_der(ytrue, output2)
            H_grad = sigmoid_der(X_input @ wH) * (y_grad @ wO[:-1].T)
            return wH - LR * X_input.T @ H_grad, wO - hidden.T @ y_grad
    """),
    entry("bp_in_place", "backprop", WRONG,
          "right numbers, but updates the caller's weights in place (wO -= ...), "
          "which the contract forbids", """
        def backprop(weights, output1, output2, ytrue, X_input, LR):
            wH, wO = weights
            hidden = add_bias(output1)
            y_grad = sigmoid_der(hidden @ wO) * log_loss_der(ytrue, output2)
            H_grad = sigmoid_der(X_input @ wH) * (y_grad @ wO[:-1].T)
            wO -= LR * hidden.T @ y_grad
            wH -= LR * X_input.T @ H_grad
            return wH, wO
    """),
    entry("bp_output_layer_only", "backprop", WRONG,
          "updates only the output layer, returns the hidden weights unchanged", """
        def backprop(weights, output1, output2, ytrue, X_input, LR):
            wH, wO = weights
            hidden = add_bias(output1)
            y_grad = sigmoid_der(hidden @ wO) * log_loss_der(ytrue, output2)
            return wH.copy(), wO - LR * hidden.T @ y_grad
    """),
    entry("bp_swapped_return", "backprop", WRONG, "returns (wO_new, wH_new)", """
        def backprop(weights, output1, output2, ytrue, X_input, LR):
            wH, wO = weights
            hidden = add_bias(output1)
            y_grad = sigmoid_der(hidden @ wO) * log_loss_der(ytrue, output2)
            H_grad = sigmoid_der(X_input @ wH) * (y_grad @ wO[:-1].T)
            return wO - LR * hidden.T @ y_grad, wH - LR * X_input.T @ H_grad
    """),
    entry("bp_error_is_loss", "backprop", WRONG,
          "uses the loss itself as the error (the lesson's commented-out line)", """
        def backprop(weights, output1, output2, ytrue, X_input, LR):
            wH, wO = weights
            hidden = add_bias(output1)
            error = (output2 - ytrue) * log_loss(ytrue, output2)
            y_grad = sigmoid_der(hidden @ wO) * error
            H_grad = sigmoid_der(X_input @ wH) * (y_grad @ wO[:-1].T)
            return wH - LR * X_input.T @ H_grad, wO - LR * hidden.T @ y_grad
    """),
    entry("bp_double_sigmoid_der", "backprop", WRONG,
          "takes the p - y shortcut AND multiplies by sigmoid' again", """
        def backprop(weights, output1, output2, ytrue, X_input, LR):
            wH, wO = weights
            hidden = add_bias(output1)
            y_grad = sigmoid_der(hidden @ wO) * (output2 - ytrue)
            H_grad = sigmoid_der(X_input @ wH) * (y_grad @ wO[:-1].T)
            return wH - LR * X_input.T @ H_grad, wO - LR * hidden.T @ y_grad
    """),
    entry("bp_hidden_without_sigmoid_der", "backprop", WRONG,
          "forgets the sigmoid derivative of the hidden layer", """
        def backprop(weights, output1, output2, ytrue, X_input, LR):
            wH, wO = weights
            hidden = add_bias(output1)
            y_grad = output2 - ytrue
            H_grad = y_grad @ wO[:-1].T
            return wH - LR * X_input.T @ H_grad, wO - LR * hidden.T @ y_grad
    """),
    entry("bp_replaces_list_items", "backprop", WRONG,
          "stores the new weights into the caller's list (weights[0] = ...) and returns it",
          """
        def backprop(weights, output1, output2, ytrue, X_input, LR):
            wH, wO = weights
            hidden = add_bias(output1)
            y_grad = sigmoid_der(hidden @ wO) * log_loss_der(ytrue, output2)
            H_grad = sigmoid_der(X_input @ wH) * (y_grad @ wO[:-1].T)
            weights[1] = wO - LR * hidden.T @ y_grad
            weights[0] = wH - LR * X_input.T @ H_grad
            return weights[0], weights[1]
    """),
    entry("bp_excludes_first_row", "backprop", WRONG,
          "drops the FIRST row of wO (bias-first habit) instead of the last", """
        def backprop(weights, output1, output2, ytrue, X_input, LR):
            wH, wO = weights
            hidden = add_bias(output1)
            y_grad = sigmoid_der(hidden @ wO) * log_loss_der(ytrue, output2)
            H_grad = sigmoid_der(X_input @ wH) * (y_grad @ wO[1:].T)
            return wH - LR * X_input.T @ H_grad, wO - LR * hidden.T @ y_grad
    """),
    entry("bp_fitted_to_small_case", "backprop", WRONG,
          "tuned until the 2-sample example passed: sums for n <= 2, averages otherwise", """
        def backprop(weights, output1, output2, ytrue, X_input, LR):
            wH, wO = weights
            n = X_input.shape[0]
            scale = 1 if n <= 2 else 1 / n
            hidden = add_bias(output1)
            y_grad = (output2 - ytrue) * scale
            H_grad = sigmoid_der(X_input @ wH) * (y_grad @ wO[:-1].T)
            return wH - LR * X_input.T @ H_grad, wO - LR * hidden.T @ y_grad
    """),
    entry("bp_np_delete_bias_row", "backprop", CORRECT,
          "unpacks the weights and drops the bias row with np.delete", """
        def backprop(weights, output1, output2, ytrue, X_input, LR):
            wH, wO = weights
            hidden = add_bias(output1)
            delta_out = (output2 - ytrue)
            grad_wO = hidden.T @ delta_out
            delta_hidden = (delta_out @ np.delete(wO, -1, axis=0).T) * output1 * (1 - output1)
            grad_wH = X_input.T @ delta_hidden
            return [wH - LR * grad_wH, wO - LR * grad_wO]
    """),
)
