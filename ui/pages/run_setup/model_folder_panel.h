#pragma once

#include "core/train/run_estimate.h"

#include <QFutureWatcher>
#include <QTimer>
#include <QWidget>

#include <optional>

class QLabel;
class QLineEdit;

namespace tunebench::ui {

// A model folder as the Run Setup page shows it: core's facts, or why the folder does not load.
struct ModelInspection : ModelFolderFacts {
    QString dir; // absolute
    QString error; // empty: the folder loads
};

// The Run Setup page's model row: the folder's path, Browse, and what the folder holds, checked by core's
// inspectModelFolder() off the GUI thread 400 ms after the path last changed.
class ModelFolderPanel : public QWidget {
    Q_OBJECT

public:
    explicit ModelFolderPanel(QWidget* parent = nullptr);
    ~ModelFolderPanel() override;

    QString path() const; // as typed, trimmed
    QString absolutePath() const; // empty when no path is typed
    void setPath(const QString& dir);

    // The last inspection (nullopt while none finished, or no path is chosen).
    const std::optional<ModelInspection>& inspection() const { return m_inspection; }
    // Whether the inspection describes the chosen folder, with none under way.
    bool inspectionCurrent() const;
    bool checkPending() const;
    bool checkRunning() const { return m_watcher.isRunning(); }
    // Inspects the chosen folder now, on this thread (a short load for the small models this is done for).
    void inspectNow();

Q_SIGNALS:
    // The path text changed (typed, browsed or set).
    void pathChanged();
    // An inspection finished, or the path was cleared.
    void inspected();

private:
    void browse();
    void inspect();
    void watcherFinished();
    void showResult(const ModelInspection& result);

    QLineEdit* m_edit;
    QLabel* m_info;
    QTimer m_timer;
    QFutureWatcher<ModelInspection> m_watcher;
    QString m_requested;
    std::optional<ModelInspection> m_inspection;
};

} // namespace tunebench::ui
