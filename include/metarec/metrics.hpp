#pragma once
/// @file metrics.hpp
/// @brief Metrics group: regression errors, AUC/GAUC/log loss, per-user top-K ranking metrics,
/// full-ranking and rating-query evaluation, and the score-file reader. See docs/metrics.md.

#include <metarec/metrics/classification.hpp>
#include <metarec/metrics/full_ranking.hpp>
#include <metarec/metrics/median_calibration.hpp>
#include <metarec/metrics/ranking.hpp>
#include <metarec/metrics/regression.hpp>
#include <metarec/metrics/scores_file.hpp>
