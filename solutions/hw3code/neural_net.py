"""A two-layer fully-connected neural network, trained with an MSE loss.

CS145 HW3 part 2. Fill in every block between `START YOUR CODE HERE` and
`END YOUR CODE HERE`; leave the rest as it is.
"""

import numpy as np


def MSE_loss(x, y):
    """
    Half the mean squared error between the scores and the one-hot labels.

    For N samples and C classes, with t the one-hot encoding of y,
        loss = 1 / (2N) * sum_i sum_c (x[i, c] - t[i, c]) ** 2

    Inputs:
    - x: Input scores, of shape (N, C).
    - y: Labels of shape (N,); y[i] is the label of x[i] and 0 <= y[i] < C.

    Returns a tuple of:
    - loss: Scalar giving the loss.
    - dx: Gradient of the loss with respect to x, of shape (N, C).
    """
    loss, dx = None, None
    # ===== #
    # START YOUR CODE HERE:
    # ===== #
    #   Compute the loss and its gradient with respect to the scores x.
    N = x.shape[0]
    targets = np.zeros_like(x)
    targets[np.arange(N), y] = 1
    diff = x - targets
    loss = np.sum(diff**2) / (2 * N)
    dx = diff / N
    # ===== #
    # END YOUR CODE HERE
    # ===== #
    return loss, dx


def softmax_loss(x, y):
    """
    Softmax cross-entropy loss (the bonus question).

        p[i, c] = exp(x[i, c]) / sum_k exp(x[i, k])
        loss = -1 / N * sum_i log p[i, y[i]]

    Inputs:
    - x: Input scores, of shape (N, C).
    - y: Labels of shape (N,); y[i] is the label of x[i] and 0 <= y[i] < C.

    Returns a tuple of:
    - loss: Scalar giving the loss.
    - dx: Gradient of the loss with respect to x, of shape (N, C).
    """
    loss, dx = None, None
    # ===== #
    # START YOUR CODE HERE:
    # ===== #
    #   Compute the loss and its gradient. Subtract each row's maximum score
    #   before exponentiating so that large scores do not overflow.
    N = x.shape[0]
    shifted = x - np.max(x, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    dx = np.exp(log_probs)
    dx[np.arange(N), y] -= 1
    dx /= N
    # ===== #
    # END YOUR CODE HERE
    # ===== #
    return loss, dx


class TwoLayerNet:
    """
    A two-layer fully-connected neural network. The net has an input dimension
    of D, a hidden layer dimension of H, and performs classification over C
    classes. It is trained with the MSE loss and an L2 regularization on the
    weight matrices, and uses a ReLU nonlinearity after the first fully
    connected layer.

    In other words, the network has the following architecture:

    input - fully connected layer - ReLU - fully connected layer - MSE loss

    The outputs of the second fully-connected layer are the scores for each
    class.
    """

    def __init__(self, input_size, hidden_size, output_size, std=1e-4):
        """
        Initialize the model. Weights are initialized to small random values
        and biases are initialized to zero. Weights and biases are stored in
        the variable self.params, which is a dictionary with the following keys:

        W1: First layer weights; has shape (H, D)
        b1: First layer biases; has shape (H,)
        W2: Second layer weights; has shape (C, H)
        b2: Second layer biases; has shape (C,)

        Inputs:
        - input_size: The dimension D of the input data.
        - hidden_size: The number of neurons H in the hidden layer.
        - output_size: The number of classes C.
        """
        self.params = {}
        self.params["W1"] = std * np.random.randn(hidden_size, input_size)
        self.params["b1"] = np.zeros(hidden_size)
        self.params["W2"] = std * np.random.randn(output_size, hidden_size)
        self.params["b2"] = np.zeros(output_size)

    def loss(self, X, y=None, reg=0.0):
        """
        Compute the loss and gradients for a two-layer fully connected neural
        network.

        Inputs:
        - X: Input data of shape (N, D). Each X[i] is a training sample.
        - y: Vector of training labels. y[i] is the label for X[i], and each y[i]
          is an integer in the range 0 <= y[i] < C. This parameter is optional;
          if it is not passed then we only return scores, and if it is passed
          then we instead return the loss and gradients.
        - reg: Regularization strength.

        Returns:
        If y is None, return a matrix scores of shape (N, C) where scores[i, c]
        is the score for class c on input X[i].

        If y is not None, instead return a tuple of:
        - loss: Loss (data loss and regularization loss) for this batch of
          training samples.
        - grads: Dictionary mapping parameter names to gradients of those
          parameters with respect to the loss function; has the same keys as
          self.params.
        """
        # Unpack variables from the params dictionary
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]

        # Compute the forward pass
        scores = None
        h1 = None
        # ===== #
        # START YOUR CODE HERE:
        # ===== #
        #   Calculate the output scores of the neural network: the hidden
        #   layer h1 = ReLU(X W1^T + b1), then scores = h1 W2^T + b2. The
        #   result should be (N, C). As stated in the description for this
        #   class, there should not be an activation after the second layer.
        h1 = np.maximum(0, X.dot(W1.T) + b1)
        scores = h1.dot(W2.T) + b2
        # ===== #
        # END YOUR CODE HERE
        # ===== #

        # If the targets are not given then jump out, we're done
        if y is None:
            return scores

        # Compute the loss
        loss = None
        dscores = None
        # ===== #
        # START YOUR CODE HERE:
        # ===== #
        #   Calculate the loss: the data loss from MSE_loss (which also
        #   returns dscores, the gradient with respect to the scores) plus the
        #   L2 regularization loss reg / 2 * (||W1||^2 + ||W2||^2).
        data_loss, dscores = MSE_loss(scores, y)
        reg_loss = 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
        loss = data_loss + reg_loss
        # ===== #
        # END YOUR CODE HERE
        # ===== #

        # Backward pass: compute gradients (given; you do not need to change it)
        grads = {}
        grads["W2"] = dscores.T.dot(h1) + reg * W2
        grads["b2"] = np.sum(dscores, axis=0)
        dh1 = dscores.dot(W2)
        dh1[h1 <= 0] = 0
        grads["W1"] = dh1.T.dot(X) + reg * W1
        grads["b1"] = np.sum(dh1, axis=0)

        return loss, grads

    def train(
        self,
        X,
        y,
        X_val,
        y_val,
        learning_rate=1e-3,
        learning_rate_decay=0.95,
        reg=5e-6,
        num_iters=100,
        batch_size=200,
        verbose=False,
    ):
        """
        Train this neural network using stochastic gradient descent.

        Inputs:
        - X: A numpy array of shape (N, D) giving training data.
        - y: A numpy array of shape (N,) giving training labels; y[i] = c means
          that X[i] has label c, where 0 <= c < C.
        - X_val: A numpy array of shape (N_val, D) giving validation data.
        - y_val: A numpy array of shape (N_val,) giving validation labels.
        - learning_rate: Scalar giving learning rate for optimization.
        - learning_rate_decay: Scalar giving factor used to decay the learning
          rate after each epoch.
        - reg: Scalar giving regularization strength.
        - num_iters: Number of steps to take when optimizing.
        - batch_size: Number of training examples to use per step.
        - verbose: boolean; if true print progress during optimization.
        """
        num_train = X.shape[0]
        iterations_per_epoch = max(num_train / batch_size, 1)

        # Use SGD to optimize the parameters in self.model
        loss_history = []
        train_acc_history = []
        val_acc_history = []

        for it in range(num_iters):
            X_batch = None
            y_batch = None
            # ===== #
            # START YOUR CODE HERE:
            # ===== #
            #   Create a random minibatch of training data and labels of size
            #   batch_size, sampled with replacement (np.random.choice), and
            #   store them in X_batch and y_batch.
            batch_indices = np.random.choice(num_train, batch_size)
            X_batch = X[batch_indices]
            y_batch = y[batch_indices]
            # ===== #
            # END YOUR CODE HERE
            # ===== #

            # Compute loss and gradients using the current minibatch
            loss, grads = self.loss(X_batch, y=y_batch, reg=reg)
            loss_history.append(loss)

            # ===== #
            # START YOUR CODE HERE:
            # ===== #
            #   Update every parameter in self.params with a step of plain
            #   stochastic gradient descent, using the gradients in grads.
            for param_name in self.params:
                self.params[param_name] -= learning_rate * grads[param_name]
            # ===== #
            # END YOUR CODE HERE
            # ===== #

            if verbose and it % 100 == 0:
                print("iteration {} / {}: loss {}".format(it, num_iters, loss))

            # Every epoch, check train and val accuracy and decay learning rate.
            if it % iterations_per_epoch == 0:
                # Check accuracy
                train_acc = (self.predict(X_batch) == y_batch).mean()
                val_acc = (self.predict(X_val) == y_val).mean()
                train_acc_history.append(train_acc)
                val_acc_history.append(val_acc)

                # Decay learning rate
                learning_rate *= learning_rate_decay

        return {
            "loss_history": loss_history,
            "train_acc_history": train_acc_history,
            "val_acc_history": val_acc_history,
        }

    def predict(self, X):
        """
        Use the trained weights of this two-layer network to predict labels for
        data points. For each data point we predict scores for each of the C
        classes, and assign each data point to the class with the highest score.

        Inputs:
        - X: A numpy array of shape (N, D) giving N D-dimensional data points to
          classify.

        Returns:
        - y_pred: A numpy array of shape (N,) giving predicted labels for each of
          the elements of X. For all i, y_pred[i] = c means that X[i] is predicted
          to have class c, where 0 <= c < C.
        """
        y_pred = None
        # ===== #
        # START YOUR CODE HERE:
        # ===== #
        #   Predict the class with the highest score for every row of X.
        y_pred = np.argmax(self.loss(X), axis=1)
        # ===== #
        # END YOUR CODE HERE
        # ===== #
        return y_pred
