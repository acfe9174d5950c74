"""Five of autograd's examples, ported mechanically (`autograd.numpy` ->
`numpy`, `autograd.scipy` -> `scipy`, `from autograd import grad` -> a
`grad` on zygote_sym.gradient), differentiate unchanged: gradients against
central differences, values against plain NumPy/SciPy.  (ode_net.py, the
sixth, is in tests/test_integrate.py with scipy.integrate.odeint.)

The example code names `np`, `solve`, `mvn`, `norm` and `logsumexp` as
module globals, as the examples do, and nothing here prepares them: SciPy's
functions convert their inputs with np.asarray, and the walk of a traced
function's globals (trace/capture.py) puts zygote_sym's traced versions in
their place while f runs (trace/library.py).
"""
import numpy as np
import numpy.random as npr
from numpy.linalg import solve
from numpy.testing import assert_allclose
from scipy.special import logsumexp
from scipy.stats import multivariate_normal as mvn
from scipy.stats import norm

import zygote_sym as zs
from zygote_sym.testing import check_grads


# --- gaussian_process.py: ported from autograd 1.9.1 examples (MIT License, (c) 2014 HIPS)
def make_gp_funs(cov_func, num_cov_params):
    """Functions that perform Gaussian process regression.
    cov_func has signature (cov_params, x, x')"""

    def unpack_kernel_params(params):
        mean = params[0]
        cov_params = params[2:]
        noise_scale = np.exp(params[1]) + 0.0001
        return mean, cov_params, noise_scale

    def predict(params, x, y, xstar):
        """Returns the predictive mean and covariance at locations xstar,
        of the latent function value f (without observation noise)."""
        mean, cov_params, noise_scale = unpack_kernel_params(params)
        cov_f_f = cov_func(cov_params, xstar, xstar)
        cov_y_f = cov_func(cov_params, x, xstar)
        cov_y_y = cov_func(cov_params, x, x) + noise_scale * np.eye(len(y))
        pred_mean = mean + np.dot(solve(cov_y_y, cov_y_f).T, y - mean)
        pred_cov = cov_f_f - np.dot(solve(cov_y_y, cov_y_f).T, cov_y_f)
        return pred_mean, pred_cov

    def log_marginal_likelihood(params, x, y):
        mean, cov_params, noise_scale = unpack_kernel_params(params)
        cov_y_y = cov_func(cov_params, x, x) + noise_scale * np.eye(len(y))
        prior_mean = mean * np.ones(len(y))
        return mvn.logpdf(y, prior_mean, cov_y_y)

    return num_cov_params + 2, predict, log_marginal_likelihood


def rbf_covariance(kernel_params, x, xp):
    output_scale = np.exp(kernel_params[0])
    lengthscales = np.exp(kernel_params[1:])
    diffs = np.expand_dims(x / lengthscales, 1) - np.expand_dims(xp / lengthscales, 0)
    return output_scale * np.exp(-0.5 * np.sum(diffs**2, axis=2))


def build_toy_dataset(D=1, n_data=20, noise_std=0.1):
    rs = npr.RandomState(0)
    inputs = np.concatenate([np.linspace(0, 3, num=n_data // 2),
                             np.linspace(6, 8, num=n_data // 2)])
    targets = (np.cos(inputs) + rs.randn(n_data) * noise_std) / 2.0
    inputs = (inputs - 4.0) / 2.0
    inputs = inputs.reshape((len(inputs), D))
    return inputs, targets


# --- neural_net_regression.py: ported from autograd 1.9.1 examples (MIT License, (c) 2014 HIPS)
def init_random_params(scale, layer_sizes, rs=npr.RandomState(0)):
    """Build a list of (weights, biases) tuples, one for each layer."""
    return [
        (
            rs.randn(insize, outsize) * scale,  # weight matrix
            rs.randn(outsize) * scale,
        )  # bias vector
        for insize, outsize in zip(layer_sizes[:-1], layer_sizes[1:])
    ]


def nn_predict(params, inputs, nonlinearity=np.tanh):
    for W, b in params:
        outputs = np.dot(inputs, W) + b
        inputs = nonlinearity(outputs)
    return outputs


def flatten(params):  # stands in for autograd.misc.flatten (not part of NumPy)
    return np.concatenate([np.ravel(p) for layer in params for p in layer]), None


def log_gaussian(params, scale):
    flat_params, _ = flatten(params)
    return np.sum(norm.logpdf(flat_params, 0, scale))


def logprob(weights, inputs, targets, noise_scale=0.1):
    predictions = nn_predict(weights, inputs)
    return np.sum(norm.logpdf(predictions, targets, noise_scale))


def build_regression_dataset(n_data=80, noise_std=0.1):
    rs = npr.RandomState(0)
    inputs = np.concatenate([np.linspace(0, 3, num=n_data // 2),
                             np.linspace(6, 8, num=n_data // 2)])
    targets = np.cos(inputs) + rs.randn(n_data) * noise_std
    inputs = (inputs - 4.0) / 2.0
    inputs = inputs[:, np.newaxis]
    targets = targets[:, np.newaxis] / 2.0
    return inputs, targets


# --- rnn.py: ported from autograd 1.9.1 examples (MIT License, (c) 2014 HIPS)
def concat_and_multiply(weights, *args):
    cat_state = np.hstack(args + (np.ones((args[0].shape[0], 1)),))
    return np.dot(cat_state, weights)


def create_rnn_params(input_size, state_size, output_size, param_scale=0.01, rs=npr.RandomState(0)):
    return {
        "init hiddens": rs.randn(1, state_size) * param_scale,
        "change": rs.randn(input_size + state_size + 1, state_size) * param_scale,
        "predict": rs.randn(state_size + 1, output_size) * param_scale,
    }


def rnn_predict(params, inputs):
    def update_rnn(input, hiddens):
        return np.tanh(concat_and_multiply(params["change"], input, hiddens))

    def hiddens_to_output_probs(hiddens):
        output = concat_and_multiply(params["predict"], hiddens)
        return output - logsumexp(output, axis=1, keepdims=True)  # Normalize log-probs.

    num_sequences = inputs.shape[1]
    hiddens = np.repeat(params["init hiddens"], num_sequences, axis=0)
    output = [hiddens_to_output_probs(hiddens)]

    for input in inputs:  # Iterate over time steps.
        hiddens = update_rnn(input, hiddens)
        output.append(hiddens_to_output_probs(hiddens))
    return output


def rnn_log_likelihood(params, inputs, targets):
    logprobs = rnn_predict(params, inputs)
    loglik = 0.0
    num_time_steps, num_examples, _ = inputs.shape
    for t in range(num_time_steps):
        loglik += np.sum(logprobs[t] * targets[t])
    return loglik / (num_time_steps * num_examples)


def grad(f):  # autograd's grad(f): the gradient w.r.t. the first argument, as a function
    return lambda *args: zs.gradient(f, *args)[0]


# --- black_box_svi.py: ported from autograd 1.9.1 examples (MIT License, (c) 2014 HIPS)
def black_box_variational_inference(logprob, D, num_samples):
    """Implements http://arxiv.org/abs/1401.0118, and uses the
    local reparameterization trick from http://arxiv.org/abs/1506.02557"""

    def unpack_params(params):
        # Variational dist is a diagonal Gaussian.
        mean, log_std = params[:D], params[D:]
        return mean, log_std

    def gaussian_entropy(log_std):
        return 0.5 * D * (1.0 + np.log(2 * np.pi)) + np.sum(log_std)

    rs = npr.RandomState(0)

    def variational_objective(params, t):
        """Provides a stochastic estimate of the variational lower bound."""
        mean, log_std = unpack_params(params)
        samples = rs.randn(num_samples, D) * np.exp(log_std) + mean
        lower_bound = gaussian_entropy(log_std) + np.mean(logprob(samples, t))
        return -lower_bound

    gradient = grad(variational_objective)

    return variational_objective, gradient, unpack_params


def log_density(x, t):
    mu, log_sigma = x[:, 0], x[:, 1]
    sigma_density = norm.logpdf(log_sigma, 0, 1.35)
    mu_density = norm.logpdf(mu, 0, np.exp(log_sigma))
    return sigma_density + mu_density


# --- fluidsim/fluidsim.py: ported from autograd 1.9.1 examples (MIT License, (c) 2014 HIPS),
# plotting left out
def project(vx, vy):
    """Project the velocity field to be approximately mass-conserving,
    using a few iterations of Gauss-Seidel."""
    p = np.zeros(vx.shape)
    h = 1.0 / vx.shape[0]
    div = (
        -0.5
        * h
        * (
            np.roll(vx, -1, axis=0)
            - np.roll(vx, 1, axis=0)
            + np.roll(vy, -1, axis=1)
            - np.roll(vy, 1, axis=1)
        )
    )

    for k in range(10):
        p = (
            div
            + np.roll(p, 1, axis=0)
            + np.roll(p, -1, axis=0)
            + np.roll(p, 1, axis=1)
            + np.roll(p, -1, axis=1)
        ) / 4.0

    vx -= 0.5 * (np.roll(p, -1, axis=0) - np.roll(p, 1, axis=0)) / h
    vy -= 0.5 * (np.roll(p, -1, axis=1) - np.roll(p, 1, axis=1)) / h
    return vx, vy


def advect(f, vx, vy):
    """Move field f according to x and y velocities (u and v)
    using an implicit Euler integrator."""
    rows, cols = f.shape
    cell_ys, cell_xs = np.meshgrid(np.arange(rows), np.arange(cols))
    center_xs = (cell_xs - vx).ravel()
    center_ys = (cell_ys - vy).ravel()

    # Compute indices of source cells.
    left_ix = np.floor(center_xs).astype(int)
    top_ix = np.floor(center_ys).astype(int)
    rw = center_xs - left_ix  # Relative weight of right-hand cells.
    bw = center_ys - top_ix  # Relative weight of bottom cells.
    left_ix = np.mod(left_ix, rows)  # Wrap around edges of simulation.
    right_ix = np.mod(left_ix + 1, rows)
    top_ix = np.mod(top_ix, cols)
    bot_ix = np.mod(top_ix + 1, cols)

    # A linearly-weighted sum of the 4 surrounding cells.
    flat_f = (1 - rw) * ((1 - bw) * f[left_ix, top_ix] + bw * f[left_ix, bot_ix]) + rw * (
        (1 - bw) * f[right_ix, top_ix] + bw * f[right_ix, bot_ix]
    )
    return np.reshape(flat_f, (rows, cols))


def simulate(vx, vy, smoke, num_time_steps, ax=None, render=False):
    print("Running simulation...")
    for t in range(num_time_steps):
        vx_updated = advect(vx, vx, vy)
        vy_updated = advect(vy, vx, vy)
        vx, vy = project(vx_updated, vy_updated)
        smoke = advect(smoke, vx, vy)
    return smoke


# ------------------------------------------------------------------ the tests
def _value(f, *args):
    return zs.withgradient(f, *args).val


def test_gaussian_process():
    num_params, predict, log_marginal_likelihood = make_gp_funs(rbf_covariance, num_cov_params=2)
    X, y = build_toy_dataset(D=1, n_data=12)
    objective = lambda params: -log_marginal_likelihood(params, X, y)  # noqa: E731
    params = np.array([0.1, -1.0, 0.3, -0.2])
    assert num_params == len(params)
    check_grads(objective, params)
    check_grads(lambda p: np.sum(predict(p, X, y, X[:4] + 0.5)[0] ** 2), params)
    assert_allclose(_value(objective, params), objective(params), rtol=1e-10)


def test_neural_net_regression():
    params = init_random_params(0.5, layer_sizes=[1, 4, 4, 1])
    inputs, targets = build_regression_dataset(n_data=16)

    def objective(weights):
        return -logprob(weights, inputs, targets) - log_gaussian(weights, 10.0)

    check_grads(objective, params)
    assert_allclose(_value(objective, params), objective(params), rtol=1e-10)


def test_rnn():
    rs = npr.RandomState(1)
    sequence_length, num_sequences, num_chars = 5, 3, 6
    inputs = np.eye(num_chars)[rs.randint(num_chars, size=(sequence_length, num_sequences))]
    params = create_rnn_params(input_size=num_chars, output_size=num_chars, state_size=4,
                               param_scale=0.5)

    def training_loss(params):
        return -rnn_log_likelihood(params, inputs, inputs)

    check_grads(training_loss, params)
    assert_allclose(_value(training_loss, params), training_loss(params), rtol=1e-10)


def test_black_box_svi():
    D = 2
    objective, gradient, unpack_params = black_box_variational_inference(log_density, D,
                                                                         num_samples=50)
    params = np.concatenate([-1 * np.ones(D), -0.5 * np.ones(D)])

    def first_draw(p):  # the objective at the draw the gradient saw (its rs is reseeded)
        return black_box_variational_inference(log_density, D, num_samples=50)[0](p, 0)
    g = gradient(params, 0)  # the first draw of the `rs` inside the objective
    h = 1e-6
    expected = [(first_draw(params + h * e) - first_draw(params - h * e)) / (2 * h)
                for e in np.eye(2 * D)]
    assert_allclose(g, expected, rtol=1e-6)
    assert_allclose(zs.withgradient(first_draw, params).val, first_draw(params), rtol=1e-12)


def _fluid_problem(rows=6, cols=6):
    rs = npr.RandomState(0)
    init_smoke, target = rs.rand(rows, cols), rs.rand(rows, cols)

    def convert_param_vector_to_matrices(params):  # fluidsim's __main__
        vx = np.reshape(params[: (rows * cols)], (rows, cols))
        vy = np.reshape(params[(rows * cols):], (rows, cols))
        return vx, vy

    def objective(params, smoke=init_smoke):
        init_vx, init_vy = convert_param_vector_to_matrices(params)
        final_smoke = simulate(init_vx, init_vy, smoke, 2)
        return np.mean((target - final_smoke) ** 2)  # distance_from_target_image
    return objective, rs.randn(2 * rows * cols) * 0.3, init_smoke


def test_fluidsim_wrt_initial_velocities_and_smoke():
    objective, params, init_smoke = _fluid_problem()
    check_grads(objective, params, init_smoke.copy())
    assert_allclose(zs.withgradient(objective, params, init_smoke).val,
                    objective(params.copy()), rtol=1e-12)


def test_fluidsim_wrt_initial_velocities_only():  # fluidsim's own objective
    objective, params, _ = _fluid_problem()
    check_grads(objective, params)
