"""The reviewed default trust list: types that stock scikit-learn estimators hold when saved with skops.

skops trusts scikit-learn's public estimators and common numpy/scipy types by itself; these are the internal
objects it does not (tree predictors, loss objects, kernels, distance metrics, scorers, calibrators, numpy and
scipy containers and pure functions). Derived by fitting every estimator of ``sklearn.utils.all_estimators()``
that builds with defaults (meta-estimators with a small inner estimator) on a small table per task, plus a
ColumnTransformer/OneHotEncoder pipeline and FunctionTransformer/TransformedTargetRegressor with numpy
functions, saving each with skops and collecting ``skops.io.get_untrusted_types``; then reviewed, and widened
to the siblings a parameter selects (every loss, kernel and distance metric). Nothing here can run a command
or import a module. ``tests/unit/domain/test_trusted_defaults.py`` repeats the derivation and fails when an installed
scikit-learn adds a type that is not listed; ``python -m tests.unit.test_trusted_defaults`` prints them.

User types still need ``train.trusted_types`` in the reviewed config.
"""

from __future__ import annotations

STOCK_TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        # found by the derivation
        "numpy.dtype",
        "numpy.mean",
        "scipy._lib.array_api_compat.numpy._aliases.asarray",
        "scipy.interpolate._bsplines.BSpline",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.cluster._bisect_k_means._BisectingTree",
        "sklearn.cluster._kmeans._kmeans_single_lloyd",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.feature_selection._univariate_selection.f_classif",
        "sklearn.gaussian_process._gpc._BinaryGaussianProcessClassifierLaplace",
        "sklearn.metrics._classification.balanced_accuracy_score",
        "sklearn.metrics._scorer._CurveScorer",
        "sklearn.metrics._scorer._Scorer",
        "sklearn.multiclass._ConstantPredictor",
        "sklearn.tree._tree.Tree",
        "sklearn.utils._bunch.Bunch",
        "sklearn.utils._metadata_requests.MetadataRequest",
        "sklearn.utils._metadata_requests.MethodMetadataRequest",
        # losses (sklearn._loss.loss): every loss a `loss=` parameter selects
        "sklearn._loss.loss.AbsoluteError",
        "sklearn._loss.loss.ExponentialLoss",
        "sklearn._loss.loss.HalfBinomialLoss",
        "sklearn._loss.loss.HalfBinomialLossArrayAPI",
        "sklearn._loss.loss.HalfGammaLoss",
        "sklearn._loss.loss.HalfMultinomialLoss",
        "sklearn._loss.loss.HalfMultinomialLossArrayAPI",
        "sklearn._loss.loss.HalfPoissonLoss",
        "sklearn._loss.loss.HalfPoissonLossArrayAPI",
        "sklearn._loss.loss.HalfSquaredError",
        "sklearn._loss.loss.HalfTweedieLoss",
        "sklearn._loss.loss.HalfTweedieLossIdentity",
        "sklearn._loss.loss.HuberLoss",
        "sklearn._loss.loss.PinballLoss",
        # Gaussian process kernels
        "sklearn.gaussian_process.kernels.CompoundKernel",
        "sklearn.gaussian_process.kernels.ConstantKernel",
        "sklearn.gaussian_process.kernels.DotProduct",
        "sklearn.gaussian_process.kernels.ExpSineSquared",
        "sklearn.gaussian_process.kernels.Exponentiation",
        "sklearn.gaussian_process.kernels.Matern",
        "sklearn.gaussian_process.kernels.PairwiseKernel",
        "sklearn.gaussian_process.kernels.Product",
        "sklearn.gaussian_process.kernels.RBF",
        "sklearn.gaussian_process.kernels.RationalQuadratic",
        "sklearn.gaussian_process.kernels.Sum",
        "sklearn.gaussian_process.kernels.WhiteKernel",
        # distance metrics a `metric=` parameter selects (not PyFuncDistance, which wraps a user function)
        "sklearn.metrics._dist_metrics.BrayCurtisDistance32",
        "sklearn.metrics._dist_metrics.BrayCurtisDistance64",
        "sklearn.metrics._dist_metrics.CanberraDistance32",
        "sklearn.metrics._dist_metrics.CanberraDistance64",
        "sklearn.metrics._dist_metrics.ChebyshevDistance32",
        "sklearn.metrics._dist_metrics.ChebyshevDistance64",
        "sklearn.metrics._dist_metrics.DiceDistance32",
        "sklearn.metrics._dist_metrics.DiceDistance64",
        "sklearn.metrics._dist_metrics.EuclideanDistance32",
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.metrics._dist_metrics.HammingDistance32",
        "sklearn.metrics._dist_metrics.HammingDistance64",
        "sklearn.metrics._dist_metrics.HaversineDistance32",
        "sklearn.metrics._dist_metrics.HaversineDistance64",
        "sklearn.metrics._dist_metrics.JaccardDistance32",
        "sklearn.metrics._dist_metrics.JaccardDistance64",
        "sklearn.metrics._dist_metrics.KulsinskiDistance32",
        "sklearn.metrics._dist_metrics.KulsinskiDistance64",
        "sklearn.metrics._dist_metrics.MahalanobisDistance32",
        "sklearn.metrics._dist_metrics.MahalanobisDistance64",
        "sklearn.metrics._dist_metrics.ManhattanDistance32",
        "sklearn.metrics._dist_metrics.ManhattanDistance64",
        "sklearn.metrics._dist_metrics.MatchingDistance32",
        "sklearn.metrics._dist_metrics.MatchingDistance64",
        "sklearn.metrics._dist_metrics.MinkowskiDistance32",
        "sklearn.metrics._dist_metrics.MinkowskiDistance64",
        "sklearn.metrics._dist_metrics.RogersTanimotoDistance32",
        "sklearn.metrics._dist_metrics.RogersTanimotoDistance64",
        "sklearn.metrics._dist_metrics.RussellRaoDistance32",
        "sklearn.metrics._dist_metrics.RussellRaoDistance64",
        "sklearn.metrics._dist_metrics.SEuclideanDistance32",
        "sklearn.metrics._dist_metrics.SEuclideanDistance64",
        "sklearn.metrics._dist_metrics.SokalMichenerDistance32",
        "sklearn.metrics._dist_metrics.SokalMichenerDistance64",
        "sklearn.metrics._dist_metrics.SokalSneathDistance32",
        "sklearn.metrics._dist_metrics.SokalSneathDistance64",
        # neighbour trees and MLP optimizers
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
        # scipy sparse containers estimators return or hold
        "scipy.sparse._coo.coo_matrix",
        "scipy.sparse._csc.csc_matrix",
        "scipy.sparse._csr.csr_matrix",
    }
)
