#pragma once
/// @file mf.hpp
/// @brief The matrix-factorisation family: vanilla and biased MF, side-feature MF, temporal MF,
/// factorisation machine, mixture of tastes, variational MF. See docs/models_mf.md.

#include <metarec/models/mf/factorization_machine.hpp>
#include <metarec/models/mf/matrix_factorization.hpp>
#include <metarec/models/mf/mixture_mf.hpp>
#include <metarec/models/mf/side_feature_mf.hpp>
#include <metarec/models/mf/svdpp.hpp>
#include <metarec/models/mf/temporal_mf.hpp>
#include <metarec/models/mf/variational_mf.hpp>
