#pragma once
/// @file report.hpp
/// @brief Report group: training reports, cold-start task scores, item scores and top-N lists.

#include <metarec/report/item_scores.hpp>
#include <metarec/report/task_scores.hpp>
#include <metarec/report/train_report.hpp>
